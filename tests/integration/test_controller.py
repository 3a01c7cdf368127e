"""The modules' two ways to run, on the real control plane, through the real ansible-playbook.

On the controller (local connection, no become, no environment keyword) the action plugin runs the
module's code in Ansible's worker process; with become or an environment keyword the module runs as
a module. Both must behave the same, and the in-process way must leave no credential file behind.
"""

import json
import os

import pytest

from playbook import run_playbook

WAYS = ("in_process", "become", "environment")


@pytest.fixture(scope="module")
def results(fresh_cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("controller")
    out = tmp / "results.json"
    scratch = tmp / "tmp"
    scratch.mkdir()
    run = run_playbook("tests/integration/playbooks/controller.yml",
                       env={"HN_CLUSTER_KUBECONFIG": fresh_cluster, "HN_CONTROLLER_RESULTS": str(out),
                            "TMPDIR": str(scratch)})
    assert run.rc == 0, run
    with open(str(out)) as handle:
        data = json.load(handle)
    return {"run": run, "scratch": scratch,
            "first": {r["item"]["key"]: r for r in data["first"]},
            "again": {r["item"]["key"]: r for r in data["again"]}}


def test_each_way_creates_then_changes_nothing(results):
    for way in WAYS:
        first, again = results["first"][way], results["again"][way]
        assert first["changed"] is True and first["summary"] == {"create": 1, "update": 0, "none": 0}, way
        assert again["changed"] is False and again["summary"] == {"create": 0, "update": 0, "none": 1}, way
    # The recap counts tasks: the first loop and the results file; the second loop changed nothing.
    assert results["run"].recap["localhost"]["changed"] == 2


def test_only_the_local_way_runs_in_process(results):
    # A module's result carries its invocation; the in-process way returns the result alone.
    assert "invocation" not in results["first"]["in_process"]
    assert "invocation" in results["first"]["become"]
    assert "invocation" in results["first"]["environment"]


def test_no_credential_file_is_left_behind(results):
    # The kubeconfig carries client certificate data, written to private files for TLS and removed after.
    assert not [p for p in os.listdir(str(results["scratch"])) if p.startswith("hn-kube-")]

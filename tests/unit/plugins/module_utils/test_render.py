"""Rendered manifest files: one per app environment, written only on change, stale files left alone."""

import os
import stat

import pytest
import yaml

from ansible_collections.hansenexus.platform.plugins.module_utils import estate, render
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError
from ansible_collections.hansenexus.platform.plugins.module_utils.runner import Call

SETTINGS = {"domain": "hansenexus.dev", "version": "2f8e7ad", "canary": "planex"}
APPS = [{"name": "planex"}, {"name": "lexilink", "environments": {"production": {}, "staging": {}}}]
NAMES = ["00-namespaces.yaml", "convex--convex-lexilink.yaml", "convex--convex-planex.yaml",
         "hn-staging--convex-lexilink-staging.yaml"]


def instances(apps=None):
    return estate.expand(apps or APPS, SETTINGS, "k3s")


def run(dest, apps=None, check_mode=False, diff=False):
    return render.run(Call({"instances": instances(apps), "options": {"secret_store": "kubernetes"},
                            "dest": str(dest)}, check_mode, diff))


def test_one_file_per_app_environment_plus_namespaces_private_to_nobody(tmp_path):
    dest = tmp_path / "out"
    result = run(dest)
    assert result["changed"] is True and result["stale"] == []
    assert sorted(os.listdir(str(dest))) == NAMES
    assert [r["action"] for r in result["files"]] == ["create"] * 4
    for name in NAMES:
        assert stat.S_IMODE(os.stat(str(dest / name)).st_mode) == 0o644
    docs = list(yaml.safe_load_all((dest / "convex--convex-planex.yaml").read_text()))
    assert [d["kind"] for d in docs if d][:2] == ["PersistentVolume", "PersistentVolumeClaim"]
    assert all("hansenexus.dev/applied-hash" in d["metadata"]["annotations"] for d in docs if d)
    assert not [d for d in docs if d and d["kind"] == "Secret"]


def test_a_second_run_writes_nothing_and_a_changed_app_rewrites_only_its_file(tmp_path):
    dest = tmp_path / "out"
    run(dest)
    mtimes = {n: os.stat(str(dest / n)).st_mtime_ns for n in NAMES}
    again = run(dest)
    assert again["changed"] is False and {r["action"] for r in again["files"]} == {"none"}
    assert {n: os.stat(str(dest / n)).st_mtime_ns for n in NAMES} == mtimes
    changed_apps = [{"name": "planex", "storage_size": "20Gi"}, APPS[1]]
    third = run(dest, changed_apps, diff=True)
    assert [os.path.basename(r["path"]) for r in third["files"] if r["changed"]] == ["convex--convex-planex.yaml"]
    assert len(third["diff"]) == 1 and "20Gi" in third["diff"][0]["after"] and "20Gi" not in third["diff"][0]["before"]


def test_check_mode_reports_and_writes_nothing(tmp_path):
    dest = tmp_path / "out"
    result = run(dest, check_mode=True)
    assert result["changed"] is True and not dest.exists()


def test_files_of_removed_apps_are_reported_not_removed(tmp_path):
    dest = tmp_path / "out"
    run(dest)
    result = run(dest, [{"name": "planex"}, {"name": "lexilink"}])   # lexilink's staging removed
    assert result["stale"] == ["hn-staging--convex-lexilink-staging.yaml"]
    assert (dest / "hn-staging--convex-lexilink-staging.yaml").exists()


def test_a_loosened_file_mode_is_put_back(tmp_path):
    dest = tmp_path / "out"
    run(dest)
    os.chmod(str(dest / "00-namespaces.yaml"), 0o666)
    result = run(dest)
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(str(dest / "00-namespaces.yaml")).st_mode) == 0o644


def test_bad_destinations_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="absolute"):
        render.write("relative/dir", [])
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(PlatformError, match="is not a directory"):
        run(target)

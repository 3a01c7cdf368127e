"""Rebuild rehearsal on the real local control plane, through the real ansible-playbook.

Converge the local estate with its data root on a "data volume" directory, record where every app's
data lives and every app's credentials, then throw the whole cluster state away (tests/cluster/down.sh
deletes etcd's data; up.sh starts an empty control plane), keep the data volume, and run
playbooks/rebuild.yml. Every claim must bind the same directory again, every credential must be the one
from before, and no file on the data volume may change.

What stands in for what cannot run here: the data volume is a directory on this machine (the kwok node
runs no containers, so nothing writes to it - the test checks that nothing does); the secret store that
survives the server (1Password, whose operator writes each app's Secret back onto the new cluster) is played
by the test, which writes the recorded Secrets and their namespaces back before the rebuild's converge (the
local inventory's store is plain Secrets, which die with the cluster). Without that step the rebuild must refuse to start any app on
a new instance secret - the first test checks that.
"""

import base64
import hashlib
import os
import subprocess

import pytest
from kubernetes import client

from playbook import run_playbook
from test_apps import k3s_instances

SERVER = "hn-k3s-local"
CLUSTER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster")


def _script(name):
    proc = subprocess.run([os.path.join(CLUSTER, name)], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, "%s failed:\n%s" % (name, proc.stderr[-3000:])


def tree(root):
    """Every file and directory under root: path -> (mode, size, mtime_ns, sha256)."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            digest = None
            if name in files:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def storage(api):
    """claim -> (volume, hostPath of that volume, claim phase), for every claim of the estate."""
    core = client.CoreV1Api(api)
    volumes = {v.metadata.name: v for v in core.list_persistent_volume().items}
    out = {}
    for namespace, sts, _secret, _replicas in k3s_instances():
        claim = core.read_namespaced_persistent_volume_claim("data-%s-0" % sts, namespace)
        volume = volumes[claim.spec.volume_name]
        out["%s/%s" % (namespace, claim.metadata.name)] = (
            claim.spec.volume_name, volume.spec.host_path.path, claim.status.phase)
    return out


def secrets(api):
    core = client.CoreV1Api(api)
    return {(namespace, name): {k: base64.b64decode(v).decode() for k, v in
                                core.read_namespaced_secret(name, namespace).data.items()}
            for namespace, _sts, name, _replicas in k3s_instances()}


def restore_secrets_as_the_operator_would(api, recorded):
    """The secret store comes back: the recorded Secrets (and the namespaces they live in) are written again."""
    core = client.CoreV1Api(api)
    existing = {n.metadata.name for n in core.list_namespace().items}
    for namespace in sorted({namespace for namespace, _name in recorded} - existing):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    for (namespace, name), data in sorted(recorded.items()):
        body = client.V1Secret(metadata=client.V1ObjectMeta(name=name, namespace=namespace), type="Opaque",
                               data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
        core.create_namespaced_secret(namespace, body)


def new_api(kubeconfig):
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig)


@pytest.fixture(scope="module")
def rehearsal(fresh_cluster, tmp_path_factory):
    volume = tmp_path_factory.mktemp("data-volume")
    data_root = volume / "convex"
    extra = {"platform_data_root": str(data_root)}
    env = {"HN_CLUSTER_KUBECONFIG": fresh_cluster}
    out = {"extra": extra, "env": env}
    out["site"] = run_playbook("site.yml", extra_vars=extra, env=env)
    assert out["site"].rc == 0, out["site"]
    api = new_api(fresh_cluster)
    out["storage_before"] = storage(api)
    out["secrets_before"] = secrets(api)
    # What the backends would have written: a database file in each app's own directory.
    for _claim, (_volume, path, _phase) in sorted(out["storage_before"].items()):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "convex_local_backend.sqlite3"), "wb") as handle:
            handle.write(os.urandom(4096) + path.encode())
    out["tree_before"] = tree(str(volume))

    # The server is gone: a new, empty control plane; the data volume stays.
    _script("down.sh")
    _script("up.sh")
    api = new_api(fresh_cluster)
    out["namespaces_after_wipe"] = sorted(n.metadata.name for n in client.CoreV1Api(api).list_namespace().items)

    out["unconfirmed"] = run_playbook("playbooks/rebuild.yml", extra_vars=extra, env=env)
    out["wrong_name"] = run_playbook("playbooks/rebuild.yml", extra_vars=dict(extra, confirm_rebuild="hn-k3s-1"),
                                     env=env)
    out["objects_after_refusals"] = len(client.AppsV1Api(api).list_stateful_set_for_all_namespaces().items)
    confirmed = dict(extra, confirm_rebuild=SERVER)
    out["store_lost"] = run_playbook("playbooks/rebuild.yml", extra_vars=confirmed, env=env)
    out["secrets_after_store_lost"] = [s.metadata.name for s in
                                       client.CoreV1Api(api).list_secret_for_all_namespaces().items
                                       if s.metadata.name.startswith("convex-")]
    out["statefulsets_after_store_lost"] = len(client.AppsV1Api(api).list_stateful_set_for_all_namespaces().items)

    restore_secrets_as_the_operator_would(api, out["secrets_before"])
    out["rebuild"] = run_playbook("playbooks/rebuild.yml", extra_vars=confirmed, args=["-v"], env=env)
    out["storage_after"] = storage(api)
    out["secrets_after"] = secrets(api)
    out["tree_after"] = tree(str(volume))
    out["again"] = run_playbook("playbooks/rebuild.yml", extra_vars=confirmed, env=env)
    return out


def test_the_wipe_really_left_an_empty_cluster(rehearsal):
    assert "convex" not in rehearsal["namespaces_after_wipe"]
    assert "hn-staging" not in rehearsal["namespaces_after_wipe"]


def test_rebuild_refuses_without_a_confirmation_naming_the_server(rehearsal):
    for run in (rehearsal["unconfirmed"], rehearsal["wrong_name"]):
        assert run.rc != 0, run
        assert "-e confirm_rebuild=%s" % SERVER in run.output, run
    assert rehearsal["objects_after_refusals"] == 0


def test_rebuild_without_the_stored_credentials_starts_no_app_on_a_new_secret(rehearsal):
    run = rehearsal["store_lost"]
    assert run.rc != 0, run
    assert "app 'planex' environment 'production': the secret store holds no instance secret" in run.output, run
    assert rehearsal["secrets_after_store_lost"] == []
    assert rehearsal["statefulsets_after_store_lost"] == 0


def test_rebuild_brings_every_app_back_on_its_own_directory(rehearsal):
    run = rehearsal["rebuild"]
    assert run.rc == 0, run

    def where(found):
        return {claim: (volume, path) for claim, (volume, path, _phase) in found.items()}

    assert where(rehearsal["storage_after"]) == where(rehearsal["storage_before"])
    paths = [path for _volume, path, _phase in rehearsal["storage_after"].values()]
    assert len(set(paths)) == len(paths) == len(k3s_instances())
    assert all(phase == "Bound" for _volume, _path, phase in rehearsal["storage_after"].values())


def test_rebuild_keeps_every_credential_so_old_admin_keys_stay_valid(rehearsal):
    assert rehearsal["secrets_after"] == rehearsal["secrets_before"]
    run = rehearsal["rebuild"]
    flat = " ".join(run.output.split())  # the callback wraps long messages
    for app, env, replicas in [("planex", "production", 1), ("lexilink", "staging", 1), ("lexilink", "preview", 0)]:
        assert "%s/%s: data " % (app, env) in flat, run
    assert flat.count("admin key valid, backend Ready") == len([i for i in k3s_instances() if i[3]]), run
    assert flat.count("admin key valid, backend scaled to zero") == len([i for i in k3s_instances() if not i[3]]), run
    for data in rehearsal["secrets_after"].values():
        assert data["instance-secret"] not in run.output
        assert data["admin-key"] not in run.output


def test_no_file_on_the_data_volume_changed(rehearsal):
    assert rehearsal["tree_after"] == rehearsal["tree_before"]


def test_a_second_rebuild_run_changes_nothing(rehearsal):
    run = rehearsal["again"]
    assert run.rc == 0, run
    assert run.changed == 0, run


def test_rebuild_of_a_hetzner_server_refuses_credentials_that_die_with_it():
    # Only the guard play runs (tagged always); no cluster or API is contacted.
    extra = {"confirm_rebuild": SERVER, "platform_hetzner_enabled": True}
    run = run_playbook("playbooks/rebuild.yml", extra_vars=extra, args=["--tags", "guard-only"])
    assert run.rc != 0, run
    flat = " ".join(run.output.split())
    assert "platform_secret_store is 'kubernetes'" in flat and "-e rebuild_secrets_saved=true" in flat, run
    saved = run_playbook("playbooks/rebuild.yml", extra_vars=dict(extra, rebuild_secrets_saved=True),
                         args=["--tags", "guard-only"])
    assert saved.rc == 0, saved

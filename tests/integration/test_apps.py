"""The apps layer on the real local control plane, through the real ansible-playbook.

One fresh cluster for the module; the runs happen in order: a rejected inventory, check mode,
converge, converge again, check mode again. Tests then look at what each run did.
"""

import base64
import copy
import os
import subprocess
import time

import pytest
import yaml
from kubernetes import client

from faults import kubectl_path
from playbook import ROOT, run_playbook

LOCAL_VARS = os.path.join(ROOT, "inventories", "local", "group_vars", "all", "estate.yml")
NAMESPACES = ("convex", "hn-staging", "hn-preview")
SELECTOR = "app.kubernetes.io/managed-by=hansenexus.platform"


def local_apps():
    with open(LOCAL_VARS) as handle:
        return yaml.safe_load(handle)["platform_apps"]


def k3s_instances():
    """(namespace, statefulset, secret, replicas) the local inventory implies."""
    out = []
    for app in local_apps():
        if app.get("placement") == "hub":
            continue
        for env, conf in (app.get("environments") or {"production": {}}).items():
            conf = conf or {}
            base = "convex-%s" % (app["name"] if env == "production" else "%s-%s" % (app["name"], env))
            defaults = {"production": "convex", "staging": "hn-staging", "preview": "hn-preview"}
            namespace = conf.get("namespace") or defaults[env]
            out.append((namespace, base, "convex-%s-%s" % (app["name"], env), conf.get("replicas", 1)))
    return out


def namespaces_present(api):
    return sorted(n.metadata.name for n in client.CoreV1Api(api).list_namespace().items
                  if n.metadata.name in NAMESPACES)


def read_secrets(api):
    core = client.CoreV1Api(api)
    found = {}
    for namespace, _sts, secret, _replicas in k3s_instances():
        obj = core.read_namespaced_secret(secret, namespace)
        found[secret] = (obj.metadata.resource_version,
                         {k: base64.b64decode(v).decode() for k, v in obj.data.items()})
    return found


@pytest.fixture(scope="module")
def runs(fresh_cluster, k8s):
    env = {"HN_CLUSTER_KUBECONFIG": fresh_cluster}
    bad_apps = local_apps() + [{"name": "planex"}, {"name": "Bad_Name"}]
    result = {"rejected": run_playbook("playbooks/apps.yml", extra_vars={"platform_apps": bad_apps}, env=env)}
    result["namespaces_after_rejected"] = namespaces_present(k8s)
    result["check"] = run_playbook("playbooks/apps.yml", args=["--check"], env=env)
    result["namespaces_after_check"] = namespaces_present(k8s)
    result["converge"] = run_playbook("playbooks/apps.yml", args=["--diff", "-v"], env=env)
    result["secrets_1"] = read_secrets(k8s)
    result["converge_again"] = run_playbook("playbooks/apps.yml", args=["--diff"], env=env)
    result["secrets_2"] = read_secrets(k8s)
    result["check_again"] = run_playbook("playbooks/apps.yml", args=["--check", "--diff"], env=env)
    result["env"] = env
    return result


def test_bad_inventory_is_refused_before_any_change(runs):
    run = runs["rejected"]
    assert run.rc != 0, run
    assert "app 'planex': field 'name': duplicate app" in run.output, run
    assert "app 'Bad_Name': field 'name'" in run.output, run
    assert runs["namespaces_after_rejected"] == [], "a refused run created namespaces"


def test_check_mode_predicts_and_creates_nothing(runs):
    run = runs["check"]
    assert run.rc == 0, run
    assert run.changed > 0, run
    assert runs["namespaces_after_check"] == [], "check mode created namespaces"


def test_converge_then_converge_again_changes_nothing(runs):
    assert runs["converge"].rc == 0, runs["converge"]
    assert runs["converge"].changed > 0, runs["converge"]
    assert runs["converge_again"].rc == 0, runs["converge_again"]
    assert runs["converge_again"].changed == 0, runs["converge_again"]


def test_check_mode_on_a_converged_estate_reports_nothing(runs):
    assert runs["check_again"].rc == 0, runs["check_again"]
    assert runs["check_again"].changed == 0, runs["check_again"]


def test_secrets_are_created_once_and_reused(runs):
    assert runs["secrets_1"] == runs["secrets_2"]
    assert len(runs["secrets_1"]) == len(k3s_instances())


def test_no_secret_value_appears_in_any_output(runs):
    values = [v for _rv, data in runs["secrets_1"].values() for k, v in data.items() if k != "dashboard-username"]
    assert values
    for name in ("rejected", "check", "converge", "converge_again", "check_again"):
        output = runs[name].output
        leaked = [v[:6] + "..." for v in values if v in output]
        assert not leaked, "%s run printed secret values: %s" % (name, leaked)


def test_workloads_run_on_the_kwok_node_and_claims_bind(runs, k8s):
    apps_api, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    deadline = time.monotonic() + 90
    pending = None
    while time.monotonic() < deadline:
        pending = []
        for namespace, sts, _secret, replicas in k3s_instances():
            obj = apps_api.read_namespaced_stateful_set(sts, namespace)
            if (obj.status.ready_replicas or 0) != replicas:
                pending.append("%s/%s ready=%s" % (namespace, sts, obj.status.ready_replicas))
            claim = core.read_namespaced_persistent_volume_claim("data-%s-0" % sts, namespace)
            if claim.status.phase != "Bound" or claim.spec.volume_name != "%s-data" % sts:
                pending.append("%s/data-%s-0 %s" % (namespace, sts, claim.status.phase))
        if not pending:
            break
        time.sleep(1)
    assert not pending, pending


def test_changed_inventory_is_planned_by_check_mode_then_applied(runs, k8s):
    apps = local_apps()
    for app in apps:
        if app["name"] == "archus":
            app["resources"] = {"requests": {"cpu": "300m", "memory": "640Mi"}, "limits": {"memory": "2Gi"}}
    apps_api = client.AppsV1Api(k8s)
    before = apps_api.read_namespaced_stateful_set("convex-archus", "convex")
    check = run_playbook("playbooks/apps.yml", extra_vars={"platform_apps": apps}, args=["--check", "--diff"],
                         env=runs["env"])
    assert check.rc == 0 and check.changed == 1, check
    assert "convex-archus" in check.output and "640Mi" in check.output, check
    unchanged = apps_api.read_namespaced_stateful_set("convex-archus", "convex")
    assert unchanged.metadata.resource_version == before.metadata.resource_version
    apply = run_playbook("playbooks/apps.yml", extra_vars={"platform_apps": apps}, env=runs["env"])
    assert apply.rc == 0 and apply.changed == 1, apply
    after = apps_api.read_namespaced_stateful_set("convex-archus", "convex")
    resources = after.spec.template.spec.containers[0].resources
    assert resources.requests == {"cpu": "300m", "memory": "640Mi"}
    # OnDelete: the running pod keeps its old revision until someone deletes it.
    pod = client.CoreV1Api(k8s).read_namespaced_pod("convex-archus-0", "convex")
    assert pod.metadata.labels["controller-revision-hash"] == before.status.update_revision
    restore = run_playbook("playbooks/apps.yml", env=runs["env"])
    assert restore.rc == 0 and restore.changed == 1, restore


def test_hand_made_drift_is_repaired(runs, k8s):
    apps_api = client.AppsV1Api(k8s)
    apps_api.patch_namespaced_stateful_set(
        "convex-calnexus", "convex", {"spec": {"template": {"spec": {"terminationGracePeriodSeconds": 5}}}})
    run = run_playbook("playbooks/apps.yml", env=runs["env"])
    assert run.rc == 0 and run.changed == 1, run
    sts = apps_api.read_namespaced_stateful_set("convex-calnexus", "convex")
    assert sts.spec.template.spec.termination_grace_period_seconds == 60


def test_removed_app_is_reported_and_pruned_only_on_confirmation(runs, k8s):
    apps = [a for a in local_apps() if a["name"] != "bgs-service"]
    run = run_playbook("playbooks/apps.yml", extra_vars={"platform_apps": apps}, env=runs["env"])
    assert run.rc == 0 and run.changed == 0, run
    assert "bgs-service: not in the inventory any more" in run.output, run
    apps_api, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    assert apps_api.read_namespaced_stateful_set("convex-bgs-service", "convex")

    refused = run_playbook("playbooks/apps.yml", extra_vars={"convex_apps_confirm_prune": ["planex"]},
                           env=runs["env"])
    assert refused.rc != 0 and "still in the inventory" in refused.output, refused

    pruned = run_playbook("playbooks/apps.yml", extra_vars={
        "platform_apps": apps, "convex_apps_confirm_prune": ["bgs-service"]}, env=runs["env"])
    assert pruned.rc == 0 and pruned.changed == 1, pruned
    names = [s.metadata.name for s in apps_api.list_namespaced_stateful_set("convex").items]
    assert "convex-bgs-service" not in names and "convex-planex" in names
    assert not [d for d in apps_api.list_namespaced_deployment("convex").items
                if d.metadata.name == "convex-bgs-service-dashboard"]
    # Data and credentials stay.
    assert core.read_namespaced_persistent_volume_claim("data-convex-bgs-service-0", "convex")
    assert core.read_persistent_volume("convex-bgs-service-data")
    assert core.read_namespaced_secret("convex-bgs-service-production", "convex")
    # Adding it back brings the same claim and secret back into use.
    back = run_playbook("playbooks/apps.yml", env=runs["env"])
    assert back.rc == 0, back
    assert read_secrets(k8s)["convex-bgs-service-production"] == runs["secrets_1"]["convex-bgs-service-production"]


def test_render_writes_one_valid_file_per_app_environment(runs, tmp_path):
    out = tmp_path / "render"
    run = run_playbook("playbooks/render.yml", extra_vars={"render_dir": str(out)}, env=runs["env"])
    assert run.rc == 0, run
    files = sorted(p.name for p in out.iterdir())
    expected = sorted("%s--%s.yaml" % (ns, sts) for ns, sts, _s, _r in k3s_instances()) + ["00-namespaces.yaml"]
    assert files == sorted(expected)
    # The rendered files are exactly what the cluster holds: a server-side dry run changes nothing.
    kubectl = kubectl_path()  # the kubectl built with the control plane, same version
    proc = subprocess.run([kubectl, "--kubeconfig", runs["env"]["HN_CLUSTER_KUBECONFIG"], "diff",
                           "--server-side", "--field-manager", "hansenexus.platform", "-f", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout[-3000:]


def test_instance_secret_with_trailing_newline_is_refused(runs):
    apps = copy.deepcopy(local_apps())
    apps[0].setdefault("environments", {"production": {}})["production"] = {"instance_secret": "ab" * 32 + "\n"}
    run = run_playbook("playbooks/apps.yml", extra_vars={"platform_apps": apps}, env=runs["env"])
    assert run.rc != 0
    assert "app 'calnexus' environment 'production': field 'instance_secret'" in run.output, run
    assert "ab" * 32 not in run.output

"""playbooks/upgrade.yml on the real local control plane: canary first, stop on failure, resume.

Pod failures are made by kwok Stage faults (tests/cluster/faults.py), matched by image or label,
exactly as a broken image or a crashing backend would look to the rollout.
"""

import re

import pytest
from kubernetes import client

from faults import add_fault, clear_faults
from playbook import run_playbook

V1, V2, V3, V4 = "1111111", "2222222", "3333333", "4444444"
BACKEND = "ghcr.io/get-convex/convex-backend:"
ORDER = ["planex", "calnexus", "lexilink", "lexilink-staging", "lexilink-preview", "nexus-lms", "archus",
         "bgs-service"]
NO_NETWORK = {"convex_apps_upgrade_health_check": False}


def upgrade(env, version, *args, **extra):
    extra_vars = dict(NO_NETWORK, convex_version=version, **extra)
    return run_playbook("playbooks/upgrade.yml", extra_vars=extra_vars, args=list(args), env=env)


def started(run):
    return re.findall(r"START (\S+) \(", run.output)


def finished(run):
    return dict(re.findall(r"DONE (\S+): ([a-z ,0-9]+?) \(", run.output))


def statefulsets(k8s):
    apps = client.AppsV1Api(k8s)
    found = {}
    for item in apps.list_stateful_set_for_all_namespaces(
            label_selector="app.kubernetes.io/managed-by=hansenexus.platform").items:
        ident = item.metadata.labels["hansenexus.dev/app"]
        if item.metadata.labels["hansenexus.dev/environment"] != "production":
            ident += "-" + item.metadata.labels["hansenexus.dev/environment"]
        found[ident] = item
    return found


def image_tags(k8s):
    return {ident: sts.spec.template.spec.containers[0].image.rsplit(":", 1)[1]
            for ident, sts in statefulsets(k8s).items()}


def dashboard_tags(k8s):
    return {d.metadata.labels["app.kubernetes.io/instance"]: d.spec.template.spec.containers[0].image.rsplit(":", 1)[1]
            for d in client.AppsV1Api(k8s).list_deployment_for_all_namespaces(
                label_selector="app.kubernetes.io/managed-by=hansenexus.platform").items}


def pods_on_update_revision(k8s):
    """ident -> True when the pod carries status.updateRevision and is Ready (None when scaled to 0)."""
    core = client.CoreV1Api(k8s)
    result = {}
    for ident, sts in statefulsets(k8s).items():
        if sts.spec.replicas == 0:
            result[ident] = None
            continue
        pod = core.read_namespaced_pod(sts.metadata.name + "-0", sts.metadata.namespace)
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        result[ident] = pod.metadata.labels.get("controller-revision-hash") == sts.status.update_revision and ready
    return result


@pytest.fixture(scope="module")
def estate(fresh_cluster, k8s):
    env = {"HN_CLUSTER_KUBECONFIG": fresh_cluster}
    run = run_playbook("playbooks/apps.yml", extra_vars={"platform_convex_version": V1}, env=env)
    assert run.rc == 0, run
    yield env
    clear_faults()


def test_happy_path_canary_first_all_on_update_revision(estate, k8s):
    run = upgrade(estate, V2)
    assert run.rc == 0, run
    assert started(run) == ORDER
    assert set(image_tags(k8s).values()) == {V2}
    assert set(dashboard_tags(k8s).values()) == {V2}, "the dashboard must move in lockstep"
    assert pods_on_update_revision(k8s) == dict((i, i != "lexilink-preview" or None) for i in ORDER)
    assert finished(run)["lexilink-preview"] == "template only, scaled to 0"
    assert "BACKUP SKIPPED planex" in run.output, "an impossible backup must be reported, not silent"
    again = upgrade(estate, V2)
    assert again.rc == 0 and again.changed == 0, again
    assert set(finished(again).values()) <= {"none", "template only, scaled to 0"}


def test_canary_that_never_gets_ready_stops_everything(estate, k8s):
    add_fault("not-ready", image=BACKEND + V3)
    try:
        run = upgrade(estate, V3, convex_apps_upgrade_timeout=15)
    finally:
        clear_faults()
    assert run.rc != 0, run
    assert started(run) == ["planex"]
    assert "Rollout of convex/convex-planex failed" in run.output
    assert "timeout after 15s waiting for pod convex/convex-planex-0" in run.output, run
    tags = image_tags(k8s)
    assert tags.pop("planex") == V3
    assert set(tags.values()) == {V2}, "apps after the canary must keep their old template"


def test_failure_at_the_third_app_then_resume(estate, k8s):
    # Heal the canary left broken by the previous test first: a run at V2 restores everyone.
    assert upgrade(estate, V2).rc == 0
    add_fault("crash-loop", labels={"app.kubernetes.io/instance": "convex-lexilink"})
    try:
        run = upgrade(estate, V4, convex_apps_upgrade_timeout=60)
    finally:
        clear_faults()
    assert run.rc != 0, run
    assert started(run) == ORDER[:3]
    assert "Rollout of convex/convex-lexilink failed" in run.output
    assert "crash loop (CrashLoopBackOff" in run.output, run
    tags = image_tags(k8s)
    assert [tags[i] for i in ORDER[:3]] == [V4, V4, V4]
    assert {tags[i] for i in ORDER[3:]} == {V2}

    resumed = upgrade(estate, V4)
    assert resumed.rc == 0, resumed
    done = finished(resumed)
    assert done["planex"] == "none" and done["calnexus"] == "none", "finished apps must be skipped"
    assert done["lexilink"] == "restarted pod"
    assert all(done[i] == "restarted pod" for i in ORDER[3:] if i != "lexilink-preview")
    assert set(image_tags(k8s).values()) == {V4}
    assert all(v in (True, None) for v in pods_on_update_revision(k8s).values())


def test_check_mode_plan_matches_the_real_run(estate, k8s):
    before = image_tags(k8s)
    plan = upgrade(estate, V1, "--check")
    assert plan.rc == 0, plan
    assert image_tags(k8s) == before, "check mode changed a template"
    planned = finished(plan)
    real = upgrade(estate, V1)
    assert real.rc == 0, real
    done = finished(real)
    assert set(planned) == set(done) == set(ORDER)
    for ident in ORDER:
        expected = {"would restart pod": "restarted pod"}.get(planned[ident], planned[ident])
        assert done[ident] == expected, (ident, planned[ident], done[ident])


def test_limit_to_some_apps_keeps_canary_first(estate, k8s):
    run = upgrade(estate, V2, apps="archus,planex")
    assert run.rc == 0, run
    assert started(run) == ["planex", "archus"]
    tags = image_tags(k8s)
    assert tags["planex"] == tags["archus"] == V2
    assert tags["calnexus"] == V1


def test_converge_refuses_to_change_a_running_image(estate):
    run = run_playbook("playbooks/apps.yml", extra_vars={"platform_convex_version": V3}, env=estate)
    assert run.rc != 0
    assert "app 'planex' environment 'production': field 'version': the backend runs %s" % V2 in run.output, run
    assert "playbooks/upgrade.yml" in run.output

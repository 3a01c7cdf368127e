"""Proof that tests/cluster runs a real Kubernetes control plane.

Real: etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
from upstream sources; kwok plays the kubelet of the fake node hn-k3s-1, so
pods only run "in name". Each test fails (never skips) when the cluster does
not come up; see conftest.py.
"""

import os
import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

import faults

NODE = "hn-k3s-1"
GOOD_IMAGE = "hn.test/convex-backend:good"


# --- helpers ---------------------------------------------------------------------------

def wait_for(what, predicate, timeout=60.0, interval=0.25):
    """Poll predicate() until it returns a truthy value; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def condition(obj, kind):
    for cond in (obj.status.conditions or []):
        if cond.type == kind:
            return cond.status
    return None


def read_pod(core, namespace, name):
    try:
        return core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def ready_pod(core, namespace, name, uid_not=None):
    pod = read_pod(core, namespace, name)
    if pod is None or pod.metadata.deletion_timestamp or pod.metadata.uid == uid_not:
        return None
    return pod if condition(pod, "Ready") == "True" else None


def statefulset(name, image, replicas=1, claim=None):
    container = client.V1Container(name="backend", image=image,
                                   ports=[client.V1ContainerPort(container_port=3210, name="http")])
    templates = None
    if claim:
        container.volume_mounts = [client.V1VolumeMount(name="data", mount_path="/convex/data")]
        templates = [client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="data"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"], storage_class_name=claim,
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})))]
    return client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1StatefulSetSpec(
            replicas=replicas,
            service_name=name,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            update_strategy=client.V1StatefulSetUpdateStrategy(type="OnDelete"),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=[container], termination_grace_period_seconds=10)),
            volume_claim_templates=templates))


def set_image(apps, namespace, name, image):
    apps.patch_namespaced_stateful_set(
        name, namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "backend", "image": image}]}}}})


def bound(obj):
    return obj if obj.status.phase == "Bound" else None


def new_update_revision(apps, namespace, name, old):
    sts = apps.read_namespaced_stateful_set(name, namespace)
    rev = sts.status.update_revision
    return rev if rev and rev != old else None


# --- the cluster itself ------------------------------------------------------------

def test_node_is_ready_with_production_capacity(k8s):
    core = client.CoreV1Api(k8s)

    def ready_untainted():
        node = core.read_node(NODE)
        return node if condition(node, "Ready") == "True" and not node.spec.taints else None
    node = wait_for("node %s Ready without taints" % NODE, ready_untainted)
    assert node.status.capacity["cpu"] == "8"
    assert node.status.capacity["memory"] == "32Gi"
    assert node.status.capacity["pods"] == "110"
    assert node.metadata.labels["kubernetes.io/hostname"] == NODE
    version = client.VersionApi(k8s).get_code()
    assert version.git_version.startswith("v1.3"), version.git_version


def test_service_account_token_authenticates(k8s, cluster_kubeconfig, namespace):
    core = client.CoreV1Api(k8s)
    # kcm's serviceaccount and root-ca publisher controllers fill every namespace.
    wait_for("default service account", lambda: core.list_namespaced_service_account(
        namespace, field_selector="metadata.name=default").items)
    wait_for("kube-root-ca.crt", lambda: core.list_namespaced_config_map(
        namespace, field_selector="metadata.name=kube-root-ca.crt").items)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="deployer")))
    token = core.create_namespaced_service_account_token(
        "deployer", namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))).status.token
    assert token.count(".") == 2

    cfg = client.Configuration()
    cfg.host = k8s.configuration.host
    cfg.ssl_ca_cert = k8s.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": "Bearer " + token}
    with client.ApiClient(cfg) as sa_client:
        review = client.AuthenticationV1Api(sa_client).create_self_subject_review(
            client.V1SelfSubjectReview())
        assert review.status.user_info.username == "system:serviceaccount:%s:deployer" % namespace
        # RBAC is enforced: the bare service account may not list secrets.
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(sa_client).list_namespaced_secret(namespace)
        assert denied.value.status == 403


def test_deployment_pods_become_ready_and_get_endpoints(k8s, namespace):
    apps, core, discovery = client.AppsV1Api(k8s), client.CoreV1Api(k8s), client.DiscoveryV1Api(k8s)
    labels = {"app": "dash"}
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="dash"),
        spec=client.V1ServiceSpec(selector=labels, ports=[client.V1ServicePort(port=6791)])))
    apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="dash"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="dash", image=GOOD_IMAGE)])))))
    wait_for("deployment available",
             lambda: (apps.read_namespaced_deployment("dash", namespace).status.ready_replicas or 0) == 2)
    pods = core.list_namespaced_pod(namespace, label_selector="app=dash").items
    assert {p.spec.node_name for p in pods} == {NODE}
    assert all(p.status.pod_ip for p in pods)

    def ready_endpoints():
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=dash").items
        return sorted(a for s in slices for e in (s.endpoints or [])
                      if e.conditions.ready for a in e.addresses)
    assert wait_for("2 ready endpoints", lambda: len(ready_endpoints()) == 2 and ready_endpoints())
    assert set(ready_endpoints()) == {p.status.pod_ip for p in pods}


def test_pod_ready_delay_is_applied(k8s, namespace):
    """KWOK_POD_READY_DELAY given to up.sh sets kwok's pod-ready stage delay."""
    stage = client.CustomObjectsApi(k8s).get_cluster_custom_object(
        "kwok.x-k8s.io", "v1alpha1", "stages", "hn-pod-ready")
    delay_ms = stage["spec"]["delay"]["durationMilliseconds"]
    expected = os.environ.get("KWOK_POD_READY_DELAY")
    if expected:  # only known when this session's environment started the cluster
        assert delay_ms == delay_ms_from(expected)
    core = client.CoreV1Api(k8s)
    start = time.monotonic()
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="timed"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image=GOOD_IMAGE)])))
    wait_for("pod Ready", lambda: ready_pod(core, namespace, "timed"))
    assert time.monotonic() - start >= delay_ms / 1000.0


def delay_ms_from(text):
    units = {"ms": 1, "s": 1000, "m": 60000}
    for unit in ("ms", "s", "m"):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text) * 1000)


# --- StatefulSet OnDelete: the upgrade contract ----------------------------------

def test_statefulset_ondelete_keeps_old_revision_until_pod_deleted(k8s, namespace):
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    apps.create_namespaced_stateful_set(namespace, statefulset("planex", GOOD_IMAGE))
    pod = wait_for("planex-0 Ready", lambda: ready_pod(core, namespace, "planex-0"))
    assert pod.spec.node_name == NODE
    rev1 = apps.read_namespaced_stateful_set("planex", namespace).status.update_revision
    assert pod.metadata.labels["controller-revision-hash"] == rev1

    set_image(apps, namespace, "planex", "hn.test/convex-backend:next")
    rev2 = wait_for("a new updateRevision", lambda: new_update_revision(apps, namespace, "planex", rev1))
    # OnDelete: the controller must leave the running pod alone.
    time.sleep(3)
    same = read_pod(core, namespace, "planex-0")
    assert same.metadata.uid == pod.metadata.uid
    assert same.metadata.labels["controller-revision-hash"] == rev1 != rev2
    assert same.spec.containers[0].image == GOOD_IMAGE
    assert condition(same, "Ready") == "True"

    core.delete_namespaced_pod("planex-0", namespace)
    new = wait_for("recreated planex-0 Ready",
                   lambda: ready_pod(core, namespace, "planex-0", uid_not=pod.metadata.uid), timeout=90)
    assert new.metadata.labels["controller-revision-hash"] == rev2
    assert new.spec.containers[0].image == "hn.test/convex-backend:next"
    sts = apps.read_namespaced_stateful_set("planex", namespace)
    assert sts.status.update_revision == rev2


# --- faults through kwok stages -------------------------------------------------------

@pytest.fixture
def fault(cluster_kubeconfig):
    """add_fault() wrapper that removes every fault it added afterwards."""
    added = []

    def add(mode, image=None, labels=None):
        faults.add_fault(mode, image=image, labels=labels, kubeconfig=cluster_kubeconfig)
        added.append((mode, image, labels))
        return image

    yield add
    for mode, image, labels in added:
        faults.remove_fault(mode, image=image, labels=labels, kubeconfig=cluster_kubeconfig)


def test_broken_image_upgrade_never_becomes_ready(k8s, namespace, fault):
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    broken = fault("not-ready", image="hn.test/convex-backend:broken-%s" % uuid.uuid4().hex[:6])
    apps.create_namespaced_stateful_set(namespace, statefulset("lexilink", GOOD_IMAGE))
    old = wait_for("lexilink-0 Ready", lambda: ready_pod(core, namespace, "lexilink-0"))
    rev1 = old.metadata.labels["controller-revision-hash"]

    set_image(apps, namespace, "lexilink", broken)
    rev2 = wait_for("a new updateRevision", lambda: new_update_revision(apps, namespace, "lexilink", rev1))
    core.delete_namespaced_pod("lexilink-0", namespace)

    def running_new():
        pod = read_pod(core, namespace, "lexilink-0")
        if pod and pod.metadata.uid != old.metadata.uid and pod.status.phase == "Running":
            return pod
        return None
    new = wait_for("new lexilink-0 Running", running_new, timeout=90)
    assert new.metadata.labels["controller-revision-hash"] == rev2
    # Stays not Ready, well past the ready delay.
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        pod = read_pod(core, namespace, "lexilink-0")
        assert condition(pod, "Ready") == "False", pod.status
        time.sleep(0.5)
    status = pod.status.container_statuses[0]
    assert status.ready is False and status.state.running is not None
    assert apps.read_namespaced_stateful_set("lexilink", namespace).status.ready_replicas in (None, 0)


def test_fault_is_selective_and_removable(k8s, namespace, fault, cluster_kubeconfig):
    core = client.CoreV1Api(k8s)
    bad = fault("not-ready", image="hn.test/selective:bad")
    assert any(f["image"] == bad for f in faults.list_faults(cluster_kubeconfig))

    def pod(name, image):
        core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image=image)])))
    pod("good", GOOD_IMAGE)
    pod("bad", bad)
    wait_for("good Ready", lambda: ready_pod(core, namespace, "good"))
    wait_for("bad Running", lambda: (read_pod(core, namespace, "bad").status.phase == "Running"))
    assert condition(read_pod(core, namespace, "bad"), "Ready") == "False"

    faults.remove_fault("not-ready", image=bad, kubeconfig=cluster_kubeconfig)
    assert not any(f["image"] == bad for f in faults.list_faults(cluster_kubeconfig))
    pod("bad-again", bad)
    wait_for("pod with the formerly bad image Ready", lambda: ready_pod(core, namespace, "bad-again"))


@pytest.mark.parametrize("mode,phase,reason", [
    ("crash-loop", "Running", "CrashLoopBackOff"),
    ("image-pull", "Pending", "ImagePullBackOff"),
])
def test_fault_waiting_reasons(k8s, namespace, fault, mode, phase, reason):
    core = client.CoreV1Api(k8s)
    image = fault(mode, image="hn.test/%s:bad-%s" % (mode, uuid.uuid4().hex[:6]))
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="victim"),
        spec=client.V1PodSpec(containers=[
            client.V1Container(name="backend", image=image),
            client.V1Container(name="sidecar", image=GOOD_IMAGE)])))

    def faulted():
        pod = read_pod(core, namespace, "victim")
        statuses = {s.name: s for s in (pod.status.container_statuses or [])}
        if "backend" in statuses and statuses["backend"].state.waiting:
            return pod, statuses
        return None
    pod, statuses = wait_for("%s status" % reason, faulted)
    assert pod.status.phase == phase
    assert statuses["backend"].state.waiting.reason == reason
    assert statuses["backend"].ready is False
    assert statuses["sidecar"].ready is True  # only the matching container is broken
    time.sleep(3)  # and it stays that way
    pod = read_pod(core, namespace, "victim")
    assert condition(pod, "Ready") == "False"
    assert pod.status.phase == phase


def test_fault_by_label(k8s, namespace, fault):
    core = client.CoreV1Api(k8s)
    fault("not-ready", labels={"hansenexus.dev/test-fault": namespace})
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="labelled", labels={"hansenexus.dev/test-fault": namespace}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image=GOOD_IMAGE)])))
    wait_for("labelled Running", lambda: read_pod(core, namespace, "labelled").status.phase == "Running")
    time.sleep(2)
    assert condition(read_pod(core, namespace, "labelled"), "Ready") == "False"


# --- storage ---------------------------------------------------------------------------

def test_static_pv_prebound_to_statefulset_claim_binds(k8s, namespace):
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    pv_name = "%s-archus-data" % namespace
    core.create_persistent_volume(client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=pv_name),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "1Gi"}, access_modes=["ReadWriteOnce"],
            persistent_volume_reclaim_policy="Retain", storage_class_name="local-path",
            local=client.V1LocalVolumeSource(path="/mnt/hn-data/convex/archus"),
            claim_ref=client.V1ObjectReference(namespace=namespace, name="data-archus-0"),
            node_affinity=client.V1VolumeNodeAffinity(required=client.V1NodeSelector(
                node_selector_terms=[client.V1NodeSelectorTerm(match_expressions=[
                    client.V1NodeSelectorRequirement(key="kubernetes.io/hostname", operator="In",
                                                     values=[NODE])])])))))
    try:
        apps.create_namespaced_stateful_set(namespace, statefulset("archus", GOOD_IMAGE, claim="local-path"))
        wait_for("archus-0 Ready", lambda: ready_pod(core, namespace, "archus-0"))
        pvc = wait_for("claim Bound", lambda: bound(
            core.read_namespaced_persistent_volume_claim("data-archus-0", namespace)))
        assert pvc.spec.volume_name == pv_name
        pv = wait_for("volume Bound", lambda: bound(core.read_persistent_volume(pv_name)))
        assert pv.spec.claim_ref.uid == pvc.metadata.uid
    finally:
        core.delete_persistent_volume(pv_name)


def test_namespace_deletion_completes(k8s):
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    name = "hn-test-del-%s" % uuid.uuid4().hex[:6]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    apps.create_namespaced_stateful_set(name, statefulset("gone", GOOD_IMAGE))
    core.create_namespaced_config_map(name, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"a": "b"}))
    wait_for("gone-0 Ready", lambda: ready_pod(core, name, "gone-0"))
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False
    wait_for("namespace %s deleted" % name, gone, timeout=120)


# --- CRDs: installed and their schemas enforced --------------------------------------

CRD_CASES = [
    # (group, version, plural, valid spec/object, invalid object, what makes it invalid)
    ("traefik.io", "v1alpha1", "middlewares",
     {"spec": {"basicAuth": {"secret": "dashboard-auth", "removeHeader": True}}},
     {"spec": {"basicAuth": {"secret": 42}}}, "spec.basicAuth.secret"),
    ("traefik.io", "v1alpha1", "ingressroutes",
     {"spec": {"entryPoints": ["websecure"],
               "routes": [{"match": "Host(`convex-planex.hansenexus.dev`)", "kind": "Rule",
                           "services": [{"name": "convex-planex", "port": 3210}],
                           "middlewares": [{"name": "dashboard-auth"}]}],
               "tls": {"certResolver": "letsencrypt"}}},
     {"spec": {"routes": [{"kind": "Rule", "services": [{"name": "x", "port": 80}]}]}},
     "match"),
    ("onepassword.com", "v1", "onepassworditems",
     {"spec": {"itemPath": "vaults/hansenexus/items/convex-planex-prod"}},
     {"spec": {"itemPath": ["not", "a", "string"]}}, "spec.itemPath"),
    ("helm.cattle.io", "v1", "helmcharts",
     {"spec": {"chart": "connect", "repo": "https://1password.github.io/connect-helm-charts",
               "version": "2.0.0", "targetNamespace": "onepassword", "set": {"replicas": 1},
               "valuesContent": "operator:\n  create: true\n"}},
     {"spec": {"chart": "connect", "failurePolicy": "explode"}}, "spec.failurePolicy"),
    ("helm.cattle.io", "v1", "helmchartconfigs",
     {"spec": {"valuesContent": "ports:\n  web:\n    redirectTo:\n      port: websecure\n"}},
     {"spec": {"valuesContent": {"ports": {}}}}, "spec.valuesContent"),
]


@pytest.mark.parametrize("group,version,plural,valid,invalid,field", CRD_CASES,
                         ids=[c[2] for c in CRD_CASES])
def test_crd_schema_is_enforced(k8s, namespace, group, version, plural, valid, invalid, field):
    api = client.CustomObjectsApi(k8s)
    crd = client.ApiextensionsV1Api(k8s).read_custom_resource_definition("%s.%s" % (plural, group))
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    kind = crd.spec.names.kind

    def body(name, obj):
        return dict(obj, apiVersion="%s/%s" % (group, version), kind=kind, metadata={"name": name})

    created = api.create_namespaced_custom_object(group, version, namespace, plural, body("ok", valid))
    assert created["spec"] == valid["spec"]

    with pytest.raises(ApiException) as rejected:
        api.create_namespaced_custom_object(group, version, namespace, plural, body("bad", invalid))
    assert rejected.value.status == 422, rejected.value.body
    assert field in rejected.value.body

    # Unknown fields: pruned by default, refused under strict field validation.
    typo = body("typo", valid)
    typo["spec"] = dict(valid["spec"], notAField="x")
    with pytest.raises(ApiException) as strict:
        api.create_namespaced_custom_object(group, version, namespace, plural, typo,
                                            field_validation="Strict")
    assert "notAField" in strict.value.body
    pruned = api.create_namespaced_custom_object(group, version, namespace, plural, typo)
    assert "notAField" not in pruned["spec"]

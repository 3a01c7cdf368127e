"""Rendered objects: what every app environment gets, validated against the Kubernetes schema."""

import kubernetes_validate
import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import estate, manifests

SETTINGS = {"domain": "hansenexus.dev", "version": "2f8e7ad", "canary": "planex"}
APPS = [
    {"name": "planex"},
    {"name": "lexilink", "environments": {
        "production": {"api_host": "api.lexilink.app"},
        "staging": {}, "preview": {"replicas": 0}}},
    {"name": "nodash", "dashboard": False, "extra_env": {"DISABLE_BEACON": "1"}},
]
K8S_VERSION = "1.33"


def objects(store="kubernetes"):
    return manifests.estate_objects(estate.expand(APPS, SETTINGS, "k3s"), {"secret_store": store})


def find(objs, kind, name):
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, "%s/%s rendered %d times" % (kind, name, len(matches))
    return matches[0]


def test_core_objects_validate_against_the_kubernetes_schema():
    core = [o for o in objects() if "." not in o["apiVersion"].split("/")[0]]
    assert {o["kind"] for o in core} == {"Namespace", "PersistentVolume", "PersistentVolumeClaim", "Service",
                                         "StatefulSet", "Deployment"}
    for obj in core:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_namespaces_first_and_unique():
    objs = objects()
    kinds = [o["kind"] for o in objs]
    assert kinds[:3] == ["Namespace"] * 3
    assert [o["metadata"]["name"] for o in objs[:3]] == ["convex", "hn-preview", "hn-staging"]


def test_statefulset_is_ondelete_single_replica_with_static_volume():
    sts = find(objects(), "StatefulSet", "convex-planex")
    spec = sts["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}
    assert spec["replicas"] == 1
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["volumeName"] == "convex-planex-data"
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/get-convex/convex-backend:2f8e7ad"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/convex/data"}]
    env = {e["name"]: e for e in container["env"]}
    assert env["INSTANCE_NAME"]["value"] == "convex-planex-production"
    assert env["INSTANCE_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "convex-planex-production", "key": "instance-secret"}
    assert env["CONVEX_CLOUD_ORIGIN"]["value"] == "https://convex-planex.hansenexus.dev"
    assert env["CONVEX_SITE_ORIGIN"]["value"] == "https://convex-planex-site.hansenexus.dev"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/version"
    assert "kill -INT 1" in container["lifecycle"]["preStop"]["exec"]["command"][-1]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}


def test_volume_is_prebound_to_the_claim_at_a_fixed_path():
    pv = find(objects(), "PersistentVolume", "convex-lexilink-staging-data")
    assert pv["spec"]["claimRef"]["namespace"] == "hn-staging"
    assert pv["spec"]["claimRef"]["name"] == "data-convex-lexilink-staging-0"
    assert pv["spec"]["hostPath"]["path"] == "/mnt/data/convex/hn-staging/convex-lexilink-staging"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"


def test_routes_cover_api_and_site_origins_with_tls():
    route = find(objects(), "IngressRoute", "convex-lexilink")
    matches = [r["match"] for r in route["spec"]["routes"]]
    assert matches == ["Host(`api.lexilink.app`)", "Host(`convex-lexilink-site.hansenexus.dev`)"]
    assert [r["services"][0]["port"] for r in route["spec"]["routes"]] == [3210, 3211]
    assert route["spec"]["tls"] == {"certResolver": "letsencrypt"}


def test_every_dashboard_route_has_the_basicauth_middleware():
    objs = objects()
    dashboards = [o for o in objs if o["kind"] == "IngressRoute" and o["metadata"]["name"].endswith("-dashboard")]
    assert len(dashboards) == 4
    for route in dashboards:
        mw_name = route["spec"]["routes"][0]["middlewares"][0]["name"]
        middleware = find(objs, "Middleware", mw_name)
        assert middleware["metadata"]["namespace"] == route["metadata"]["namespace"]
        assert middleware["spec"]["basicAuth"]["secret"].startswith("convex-")


def test_app_without_dashboard_gets_none_and_keeps_its_flag():
    objs = objects()
    assert not [o for o in objs if o["metadata"]["name"].startswith("convex-nodash-dashboard")]
    sts = find(objs, "StatefulSet", "convex-nodash")
    env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DISABLE_BEACON"] == "1"


def test_preview_is_scaled_to_zero_with_its_claim_kept():
    objs = objects()
    assert find(objs, "StatefulSet", "convex-lexilink-preview")["spec"]["replicas"] == 0
    assert find(objs, "Deployment", "convex-lexilink-preview-dashboard")["spec"]["replicas"] == 0
    assert find(objs, "PersistentVolume", "convex-lexilink-preview-data")
    claim = find(objs, "PersistentVolumeClaim", "data-convex-lexilink-preview-0")
    assert claim["metadata"]["namespace"] == "hn-preview"
    assert claim["spec"]["volumeName"] == "convex-lexilink-preview-data"


@pytest.mark.parametrize("store,expected", [("kubernetes", 0), ("onepassword", 5)])
def test_onepassword_items_only_in_onepassword_mode(store, expected):
    items = [o for o in objects(store) if o["kind"] == "OnePasswordItem"]
    assert len(items) == expected
    if items:
        assert items[0]["spec"]["itemPath"] == "vaults/hansenexus/items/convex-planex-production"


def test_rendering_is_deterministic():
    assert objects() == objects()

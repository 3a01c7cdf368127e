"""Filters that the roles and playbooks call."""

from ansible_collections.hansenexus.platform.plugins.filter import estate as filters
from ansible_collections.hansenexus.platform.plugins.module_utils import naming

SETTINGS = {"domain": "hansenexus.dev", "version": "aaa", "canary": "planex"}


def test_image_changes_name_app_environment_and_versions():
    instances = filters.convex_instances([{"name": "planex"}, {"name": "archus"}], SETTINGS)
    live = [
        {"metadata": {"namespace": "convex", "name": "convex-planex"},
         "spec": {"template": {"spec": {"containers": [{"name": "backend", "image": naming.BACKEND_IMAGE + ":old"}]}}}},
        {"metadata": {"namespace": "convex", "name": "convex-archus"},
         "spec": {"template": {"spec": {"containers": [{"name": "backend", "image": naming.BACKEND_IMAGE + ":aaa"}]}}}},
    ]
    assert filters.convex_image_changes(live, instances) == [
        "app 'planex' environment 'production': field 'version': the backend runs old, the inventory pins aaa"]


def test_rollout_order_accepts_a_comma_string():
    instances = filters.convex_instances([{"name": "planex"}, {"name": "archus"}, {"name": "calnexus"}], SETTINGS)
    order = filters.convex_rollout_order(instances, "planex", "calnexus, planex")
    assert [i["app"] for i in order] == ["planex", "calnexus"]


def test_manifest_yaml_carries_the_applied_hash():
    text = filters.to_manifest_yaml([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "convex"}}])
    assert text.startswith("---\napiVersion: v1\nkind: Namespace\n")
    assert naming.ANNOTATION_APPLIED in text


def test_object_key():
    assert filters.object_key({"name": "a", "namespace": "n"}) == "n/a"
    assert filters.object_key({"name": "pv"}) == "pv"

"""The comparison that decides whether an object needs a write."""

import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import apply, naming

OBJ = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n", "labels": {"a": "b"}},
       "spec": {"ports": [{"port": 3210, "name": "api"}], "selector": {"x": "y"}}}


@pytest.mark.parametrize("current,desired,expected", [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2]}}, True),
    ({"a": [1, 2, 3]}, {"a": [1, 2]}, False),
    ({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]}, True),
    ({"a": True}, {"a": 1}, False),
    ({"a": "10Gi"}, {"a": "10Gi"}, True),
    ({"a": 1}, {"a": "1"}, True),
    ({}, {"a": None}, True),
    ({"a": None}, {"a": {}}, False),
])
def test_contains(current, desired, expected):
    assert apply.contains(current, desired) is expected


def test_hash_annotation_is_stable_and_sensitive():
    first = apply.with_hash(OBJ)
    assert first["metadata"]["annotations"][naming.ANNOTATION_APPLIED] == \
        apply.with_hash(OBJ)["metadata"]["annotations"][naming.ANNOTATION_APPLIED]
    other = dict(OBJ, spec={"ports": [{"port": 3211, "name": "api"}], "selector": {"x": "y"}})
    assert apply.with_hash(other)["metadata"]["annotations"] != first["metadata"]["annotations"]
    assert "annotations" not in OBJ["metadata"], "with_hash must not modify its input"


def test_unchanged_needs_marker_and_fields():
    desired = apply.with_hash(OBJ)
    live = apply.with_hash(OBJ)
    live["metadata"]["resourceVersion"] = "7"
    live["spec"]["clusterIP"] = "10.0.0.1"
    assert apply._unchanged(live, desired)
    drifted = apply.with_hash(OBJ)
    drifted["spec"]["selector"] = {"x": "z"}
    assert not apply._unchanged(drifted, desired)
    unmarked = dict(OBJ)
    assert not apply._unchanged(unmarked, desired)


def test_redact_hides_secret_values_and_bookkeeping():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "managedFields": [{}],
                                                                 "resourceVersion": "1"},
              "data": {"instance-secret": "c2VjcmV0"}, "stringData": {"k": "plain"}}
    shown = apply.redact(secret)
    assert shown["data"] == {"instance-secret": apply.REDACTED}
    assert shown["stringData"] == {"k": apply.REDACTED}
    assert "managedFields" not in shown["metadata"] and "resourceVersion" not in shown["metadata"]
    assert secret["data"]["instance-secret"] == "c2VjcmV0"

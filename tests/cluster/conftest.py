"""Fixtures of the control-plane tests; the cluster itself comes from tests/conftest.py."""

import uuid

import pytest

from localcluster import api_client


@pytest.fixture(scope="session")
def k8s(cluster_kubeconfig):
    """A kubernetes.client.ApiClient for the local cluster."""
    return api_client(cluster_kubeconfig)


@pytest.fixture
def namespace(k8s):
    """A fresh namespace, deleted after the test (deletion is not awaited here;
    test_namespace_deletion_completes proves it finishes)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(k8s)
    name = "hn-test-%s" % uuid.uuid4().hex[:8]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise

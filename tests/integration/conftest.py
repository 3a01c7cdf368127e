"""The integration tests run on a freshly started control plane (``fresh_cluster``, tests/conftest.py)."""

import pytest

from localcluster import api_client


@pytest.fixture(scope="module")
def k8s(fresh_cluster):
    """A kubernetes.client.ApiClient for the fresh cluster."""
    return api_client(fresh_cluster)

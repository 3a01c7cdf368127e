"""Fixtures for tests that need the real local control plane (tests/cluster).

``cluster_kubeconfig`` (session) makes sure the cluster runs and returns its
kubeconfig path:

* ``HN_CLUSTER_EXTERNAL_KUBECONFIG`` set: use that cluster as it is (it must
  be one started by tests/cluster/up.sh, since the fault tests need its kwok);
* otherwise run ``tests/cluster/up.sh`` (builds on first use, returns in about
  a second when the cluster already runs). If this session started the
  cluster it stops it again at the end, unless ``HN_CLUSTER_KEEP=1``.

A cluster that cannot start is a test FAILURE, never a skip.
"""

import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _run(script, timeout=None):
    return subprocess.run([os.path.join(HERE, script)], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="session")
def cluster_kubeconfig():
    external = os.environ.get("HN_CLUSTER_EXTERNAL_KUBECONFIG")
    if external:
        if not os.path.isfile(external):
            pytest.fail("HN_CLUSTER_EXTERNAL_KUBECONFIG=%s does not exist" % external)
        yield external
        return
    was_running = _run("status.sh").returncode == 0
    # The first run builds Kubernetes from source: allow it plenty of time.
    proc = _run("up.sh", timeout=int(os.environ.get("HN_CLUSTER_UP_TIMEOUT", "5400")))
    if proc.returncode != 0:
        pytest.fail("tests/cluster/up.sh failed (exit %s):\n%s" % (proc.returncode, proc.stderr[-4000:]),
                    pytrace=False)
    kubeconfig = proc.stdout.strip().splitlines()[-1]
    yield kubeconfig
    if not was_running and os.environ.get("HN_CLUSTER_KEEP") != "1":
        _run("down.sh")


@pytest.fixture(scope="session")
def k8s(cluster_kubeconfig):
    """A kubernetes.client.ApiClient for the local cluster."""
    from kubernetes import config

    return config.new_client_from_config(config_file=cluster_kubeconfig)


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

"""Shared by every test: the collection importable from the checkout, and the local control plane.

The control plane is tests/cluster (up.sh / down.sh). A cluster that cannot start is a test
FAILURE, never a skip. Two fixtures give its kubeconfig path:

* ``cluster_kubeconfig`` (session) - the running cluster, started if needed. With
  ``HN_CLUSTER_EXTERNAL_KUBECONFIG`` set that cluster is used as it is (it must be one started by
  up.sh, since the fault tests need its kwok). If this session started the cluster it stops it at
  the end, unless ``HN_CLUSTER_KEEP=1``.
* ``fresh_cluster`` (module) - the cluster restarted with empty state (down.sh, then up.sh), for
  tests that need to know everything in it is theirs.

tests/ and tests/cluster are on ``sys.path`` for the shared helpers (``localcluster``, ``playbook``,
``faults``).
"""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
CLUSTER = os.path.join(TESTS, "cluster")
for _path in (os.path.join(ROOT, "collections"), TESTS, CLUSTER):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from localcluster import cluster_script, up  # noqa: E402  (needs tests/ on sys.path)


@pytest.fixture(scope="session")
def cluster_kubeconfig():
    external = os.environ.get("HN_CLUSTER_EXTERNAL_KUBECONFIG")
    if external:
        if not os.path.isfile(external):
            pytest.fail("HN_CLUSTER_EXTERNAL_KUBECONFIG=%s does not exist" % external)
        yield external
        return
    was_running = cluster_script("status.sh").returncode == 0
    yield up()
    if not was_running and os.environ.get("HN_CLUSTER_KEEP") != "1":
        cluster_script("down.sh")


@pytest.fixture(scope="module")
def fresh_cluster():
    cluster_script("down.sh", timeout=300)
    yield up()

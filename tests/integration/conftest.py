"""A freshly started local control plane for the integration tests of this directory."""

import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(TESTS, "cluster")
for path in (TESTS, CLUSTER):
    if path not in sys.path:
        sys.path.insert(0, path)


def _script(name, timeout=None):
    return subprocess.run([os.path.join(CLUSTER, name)], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def fresh_cluster():
    """Restart the control plane with empty state; a cluster that cannot start fails the test."""
    _script("down.sh", timeout=300)
    proc = _script("up.sh", timeout=int(os.environ.get("HN_CLUSTER_UP_TIMEOUT", "5400")))
    if proc.returncode != 0:
        pytest.fail("tests/cluster/up.sh failed (exit %s):\n%s" % (proc.returncode, proc.stderr[-4000:]),
                    pytrace=False)
    yield proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def k8s(fresh_cluster):
    from kubernetes import config

    return config.new_client_from_config(config_file=fresh_cluster)

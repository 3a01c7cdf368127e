"""Helpers for the local control plane (tests/cluster): its scripts and an API client."""

import os
import subprocess

import pytest

CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster")


def cluster_script(name, timeout=None):
    """Run tests/cluster/NAME; the CompletedProcess."""
    return subprocess.run([os.path.join(CLUSTER, name)], capture_output=True, text=True, timeout=timeout,
                          check=False)


def up():
    """Start the cluster (or find it running); its kubeconfig path. Fails the test when it cannot."""
    # The first run builds Kubernetes from source: allow it plenty of time.
    proc = cluster_script("up.sh", timeout=int(os.environ.get("HN_CLUSTER_UP_TIMEOUT", "5400")))
    if proc.returncode != 0:
        pytest.fail("tests/cluster/up.sh failed (exit %s):\n%s" % (proc.returncode, proc.stderr[-4000:]),
                    pytrace=False)
    return proc.stdout.strip().splitlines()[-1]


def api_client(kubeconfig):
    """A kubernetes.client.ApiClient for a kubeconfig."""
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig)

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfig loading of the collection's own REST client (the transport is exercised on the real cluster)."""

import base64
import os
import stat

import pytest
import yaml

from ansible_collections.hansenexus.platform.plugins.module_utils import kube
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import KubernetesError


def _write(tmp_path, user, cluster=None, current="ctx"):
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": cluster or {
            "server": "https://127.0.0.1:6443/", "certificate-authority-data": base64.b64encode(b"CA").decode()}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_certificate_data_goes_to_private_files(tmp_path):
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode()}
    config = kube.load_kubeconfig(_write(tmp_path, user))
    assert config["server"] == "https://127.0.0.1:6443"
    for name, content in (("ca", b"CA"), ("cert", b"CERT"), ("key", b"KEY")):
        with open(config[name], "rb") as handle:
            assert handle.read() == content
        assert stat.S_IMODE(os.stat(config[name]).st_mode) == 0o600
    assert config["token"] is None and config["basic"] is None


def test_closing_the_connection_removes_the_credential_files(tmp_path):
    # A forked Ansible worker exits without running exit handlers: the in-process path must close.
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode()}
    path = _write(tmp_path, user)
    with kube.Kube(path) as client:
        directory = os.path.dirname(client.transport.pool.connection_pool_kw["key_file"])
        assert sorted(os.listdir(directory)) == ["ca.crt", "client.crt", "client.key"]
    assert not os.path.exists(directory)
    client.close()   # closing twice is harmless


def test_relative_files_and_token_file_resolve_next_to_the_kubeconfig(tmp_path):
    (tmp_path / "token").write_text("abc123\n")
    cluster = {"server": "https://k3s:6443", "certificate-authority": "ca.crt", "tls-server-name": "k3s.local"}
    config = kube.load_kubeconfig(_write(tmp_path, {"tokenFile": "token"}, cluster))
    assert config["ca"] == str(tmp_path / "ca.crt")
    assert config["token"] == "abc123"
    assert config["tls_server_name"] == "k3s.local"


def test_exec_credentials_are_left_to_the_kubernetes_package(tmp_path):
    assert kube.load_kubeconfig(_write(tmp_path, {"exec": {"command": "aws"}})) is None


def test_named_context_is_used_and_unknown_context_is_an_error(tmp_path):
    path = _write(tmp_path, {"token": "t"})
    assert kube.load_kubeconfig(path, "other")["token"] == "t"
    with pytest.raises(KubernetesError, match="no context named 'nope'"):
        kube.load_kubeconfig(path, "nope")


def test_missing_kubeconfig_is_an_error(tmp_path):
    with pytest.raises(KubernetesError, match="cannot load kubeconfig"):
        kube.load_kubeconfig(str(tmp_path / "absent"))

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, thread-safe Kubernetes REST client.

It reads the kubeconfig itself and talks to the API server through urllib3
(client certificates, bearer tokens, basic auth, CA data or files): the
kubernetes package costs half a second to import, paid by every module run,
and is only loaded for what only it can do - exec and auth-provider
credential plugins. On top of that: discovery of resource paths by
apiVersion and kind (one request per group version, cached), JSON requests,
and server-side apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import base64
import json
import os
import shutil
import tempfile
import threading

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover - Python 2 sanity only
    from urllib import urlencode

try:
    import urllib3
    import yaml
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - Kube() reports it
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

from ansible_collections.hansenexus.platform.plugins.module_utils.errors import KubernetesError

FIELD_MANAGER = "hansenexus.platform"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60


#: Argument spec of the options the ``hansenexus.platform.kube`` doc fragment documents.
KUBE_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
)


def argument_spec(**options):
    """The kubeconfig/context options plus a module's own."""
    spec = dict(KUBE_ARGUMENT_SPEC)
    spec.update(options)
    return spec


def connect(params, workers=8):
    """A Kube for the kubeconfig/context options; close it (or use it in a with block) when done."""
    return Kube(params["kubeconfig"], params["context"], workers=workers)


class NotFound(KubernetesError):
    """The object (or its namespace) does not exist."""


def _named(entries, name, what, source):
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise KubernetesError("%s has no %s named '%s'" % (source, what, name))


class _Files:
    """Certificate and key data written to private files for the TLS layer.

    Removed by Kube.close(), and at interpreter exit as a fallback (a forked worker process exits
    without running exit handlers, so the in-process path must close).
    """

    def __init__(self):
        self.dir = None

    def remove(self):
        if self.dir is not None:
            shutil.rmtree(self.dir, True)
            self.dir = None

    def path(self, data_b64, name):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="hn-kube-")
            atexit.register(shutil.rmtree, self.dir, True)
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(data_b64))
        return path


def load_kubeconfig(kubeconfig=None, context=None):
    """Server and credentials of the context, or None when only the kubernetes package can load them."""
    if not kubeconfig:
        listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        if len(listed) > 1:
            return None  # merged kubeconfigs: left to the kubernetes package
        kubeconfig = listed[0] if listed else "~/.kube/config"
    source = os.path.expanduser(kubeconfig)
    try:
        with open(source) as handle:
            config = yaml.safe_load(handle) or {}
    except (IOError, OSError, yaml.YAMLError) as exc:
        raise KubernetesError("cannot load kubeconfig %s: %s" % (source, exc))
    context_name = context or config.get("current-context")
    if not context_name:
        raise KubernetesError("kubeconfig %s names no current context; set the context option" % source)
    ctx = _named(config.get("contexts"), context_name, "context", source)
    cluster = _named(config.get("clusters"), ctx.get("cluster"), "cluster", source)
    user = _named(config.get("users"), ctx["user"], "user", source) if ctx.get("user") else {}
    if user.get("exec") or user.get("auth-provider"):
        return None
    base = os.path.dirname(source)
    files = _Files()

    def material(entry, key, name):
        if entry.get(key + "-data"):
            return files.path(entry[key + "-data"], name)
        if entry.get(key):
            return os.path.join(base, os.path.expanduser(entry[key]))
        return None

    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(base, user["tokenFile"])) as handle:
            token = handle.read().strip()
    return {
        "server": (cluster.get("server") or "").rstrip("/"),
        "ca": material(cluster, "certificate-authority", "ca.crt"),
        "insecure": bool(cluster.get("insecure-skip-tls-verify")),
        "tls_server_name": cluster.get("tls-server-name"),
        "cert": material(user, "client-certificate", "client.crt"),
        "key": material(user, "client-key", "client.key"),
        "token": token,
        "basic": (user["username"], user.get("password") or "") if user.get("username") else None,
        "files": files,
    }


class _Urllib3:
    """Requests over one pooled connection set, with the kubeconfig's credentials."""

    def __init__(self, config, workers):
        if not config["server"]:
            raise KubernetesError("the kubeconfig's cluster has no server")
        self.server = config["server"]
        self.headers = {}
        if config["token"]:
            self.headers["Authorization"] = "Bearer %s" % config["token"]
        elif config["basic"]:
            self.headers.update(urllib3.make_headers(basic_auth="%s:%s" % config["basic"]))
        tls = {}
        if self.server.startswith("https:"):
            tls = {"cert_reqs": "CERT_NONE" if config["insecure"] else "CERT_REQUIRED",
                   "ca_certs": config["ca"], "cert_file": config["cert"], "key_file": config["key"]}
            if config["tls_server_name"]:
                tls["server_hostname"] = config["tls_server_name"]
        if config["insecure"]:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=max(1, workers), block=False,
                                        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
                                        retries=False, **dict((k, v) for k, v in tls.items() if v))

    def send(self, method, path, query, headers, payload):
        url = self.server + path + ("?" + urlencode(query) if query else "")
        if payload is not None and not isinstance(payload, (str, bytes)):
            payload = json.dumps(payload)
        merged = dict(self.headers)
        merged.update(headers)
        response = self.pool.request(method, url, body=payload, headers=merged, preload_content=True)
        return response.status, response.data


class _KubernetesPackage:
    """Requests through the kubernetes package, for exec and auth-provider credentials."""

    def __init__(self, kubeconfig, context):
        try:
            from kubernetes import config as k8s_config
            from kubernetes.client.exceptions import ApiException
        except ImportError as exc:
            raise KubernetesError("this kubeconfig needs the kubernetes Python package (exec or auth-provider "
                                  "credentials): %s" % exc)
        self.api_exception = ApiException
        try:
            self.api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        except Exception as exc:  # the loader raises several unrelated types
            raise KubernetesError("cannot load kubeconfig %s: %s" % (kubeconfig or "(default)", exc))

    def send(self, method, path, query, headers, payload):
        try:
            method, url, headers, payload, _post = self.api.param_serialize(
                method, path, query_params=list((query or {}).items()), header_params=headers, body=payload,
                auth_settings=["BearerToken"])
            response = self.api.call_api(method, url, header_params=headers, body=payload)
            response.read()
            return response.status, response.data
        except self.api_exception as exc:
            return getattr(exc, "status", 0), getattr(exc, "body", None)


class Kube:
    """Requests against one cluster, from a kubeconfig file and optional context."""

    def __init__(self, kubeconfig=None, context=None, workers=8):
        if not HAS_KUBERNETES:
            raise KubernetesError("urllib3 and PyYAML are required: %s" % KUBERNETES_IMPORT_ERROR)
        config = load_kubeconfig(kubeconfig, context)
        self._files = config["files"] if config else None
        try:
            self.transport = _Urllib3(config, workers) if config else _KubernetesPackage(kubeconfig, context)
        except Exception:
            self.close()
            raise
        self._resources = {}
        self._lock = threading.Lock()

    def close(self):
        """Remove the credential files written for this connection."""
        if self._files is not None:
            self._files.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- transport ---------------------------------------------------------
    def request(self, method, path, body=None, query=None, content_type="application/json"):
        """Send one request; return the decoded JSON body. Raises NotFound on 404."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        # JSON bodies go as objects (the kubernetes package encodes them); apply patches as ready-made text.
        payload = json.dumps(body) if body is not None and content_type != "application/json" else body
        try:
            status, data = self.transport.send(method, path, query, headers, payload)
        except Exception as exc:  # connection refused, TLS, timeouts
            raise KubernetesError("%s %s: %s" % (method, path, exc))
        if status == 404:
            raise NotFound(_api_message(data))
        if status >= 400 or status == 0:
            raise KubernetesError("%s %s: %s" % (method, path, _api_message(data)))
        return json.loads(data) if data else {}

    # -- discovery ---------------------------------------------------------
    def resource(self, api_version, kind):
        """(collection path prefix, plural, namespaced) for an apiVersion and kind."""
        with self._lock:
            if api_version not in self._resources:
                base = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
                try:
                    listing = self.request("GET", base)
                except NotFound:
                    listing = {"resources": []}
                self._resources[api_version] = {
                    r["kind"]: (base, r["name"], r["namespaced"])
                    for r in listing.get("resources", []) if "/" not in r["name"]
                }
            found = self._resources[api_version].get(kind)
        if not found:
            raise NotFound("the cluster does not serve %s %s (is its CRD installed?)" % (api_version, kind))
        return found

    def path(self, api_version, kind, name=None, namespace=None):
        base, plural, namespaced = self.resource(api_version, kind)
        if namespaced:
            if not namespace:
                raise KubernetesError("%s %s needs a namespace" % (kind, name))
            path = "%s/namespaces/%s/%s" % (base, namespace, plural)
        else:
            path = "%s/%s" % (base, plural)
        return path + ("/%s" % name if name else "")

    def is_namespaced(self, api_version, kind):
        return self.resource(api_version, kind)[2]

    # -- verbs -------------------------------------------------------------
    def get(self, api_version, kind, name, namespace=None):
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(api_version, kind, name, namespace))
        except NotFound:
            return None

    def list(self, api_version, kind, namespace=None, label_selector=None):
        query = {"labelSelector": label_selector} if label_selector else None
        if namespace or not self.is_namespaced(api_version, kind):
            path = self.path(api_version, kind, namespace=namespace)
        else:
            base, plural, _ns = self.resource(api_version, kind)
            path = "%s/%s" % (base, plural)
        return self.request("GET", path, query=query).get("items", [])

    def apply(self, obj, dry_run=False, field_manager=FIELD_MANAGER):
        """Server-side apply of one object (created when missing); returns the result."""
        meta = obj["metadata"]
        query = {"fieldManager": field_manager, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        path = self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        return self.request("PATCH", path, body=obj, query=query, content_type=APPLY_CONTENT_TYPE)

    def create(self, obj):
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], namespace=meta.get("namespace"))
        return self.request("POST", path, body=obj)

    def delete(self, api_version, kind, name, namespace=None, preconditions=None):
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            return self.request("DELETE", self.path(api_version, kind, name, namespace), body=body)
        except NotFound:
            return None


def _api_message(body):
    """The API server's own message from an error body, without the HTTP dump."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body).get("message") or str(body)
    except (TypeError, ValueError, AttributeError):
        return str(body) if body else "no answer"

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, thread-safe Kubernetes REST client on top of the kubernetes package.

The kubernetes package loads the kubeconfig (certificates, tokens, exec
plugins) and owns the connection pool; this class adds the few things the
collection needs: discovery of resource paths by apiVersion and kind (one
request per group version, cached), JSON requests, and server-side apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading

try:
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the module's missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class ApiException(Exception):
        """Stand-in so the except clauses below stay valid without the client."""

from ansible_collections.hansenexus.platform.plugins.module_utils.errors import KubernetesError

FIELD_MANAGER = "hansenexus.platform"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


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


def connect(module):
    """A Kube for the module's kubeconfig/context; fails the module when the client is missing."""
    if not HAS_KUBERNETES:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    return Kube(module.params["kubeconfig"], module.params["context"])


class NotFound(KubernetesError):
    """The object (or its namespace) does not exist."""


class Kube:
    """Requests against one cluster, from a kubeconfig file and optional context."""

    def __init__(self, kubeconfig=None, context=None):
        if not HAS_KUBERNETES:
            raise KubernetesError("the kubernetes Python package is required: %s" % KUBERNETES_IMPORT_ERROR)
        try:
            self.api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        except Exception as exc:  # the loader raises several unrelated types
            raise KubernetesError("cannot load kubeconfig %s: %s" % (kubeconfig or "(default)", exc))
        self._resources = {}
        self._lock = threading.Lock()

    # -- transport ---------------------------------------------------------
    def request(self, method, path, body=None, query=None, content_type="application/json"):
        """Send one request; return the decoded JSON body. Raises NotFound on 404."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        # JSON bodies go as objects (the client encodes them); apply patches as ready-made text.
        payload = json.dumps(body) if body is not None and content_type != "application/json" else body
        try:
            status, data = self._send(method, path, list((query or {}).items()), headers, payload)
        except ApiException as exc:
            status, data = getattr(exc, "status", 0), getattr(exc, "body", None)
        except Exception as exc:  # connection refused, TLS, timeouts
            raise KubernetesError("%s %s: %s" % (method, path, exc))
        if status == 404:
            raise NotFound(_api_message(data))
        if status >= 400 or status == 0:
            raise KubernetesError("%s %s: %s" % (method, path, _api_message(data)))
        return json.loads(data) if data else {}

    def _send(self, method, path, query, headers, payload):
        """(status, body) through the client's own auth and connection pool (old and new client APIs)."""
        if hasattr(self.api, "param_serialize"):
            method, url, headers, payload, _post = self.api.param_serialize(
                method, path, query_params=query, header_params=headers, body=payload,
                auth_settings=["BearerToken"])
            response = self.api.call_api(method, url, header_params=headers, body=payload)
            response.read()
            return response.status, response.data
        response = self.api.call_api(
            path, method, query_params=query, header_params=headers, body=payload,
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
        return response.status, response.data

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

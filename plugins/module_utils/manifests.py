# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects of the estate, rendered from expanded instances.

Pure functions: an instance (see ``estate.expand``) in, plain dicts out. The
same objects are applied by the apps role and written by the render playbook.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hansenexus.platform.plugins.module_utils import naming

API_PORT = 3210
SITE_PORT = 3211
DASHBOARD_PORT = 6791
DATA_DIR = "/convex/data"

#: Keys of the per app-environment Secret (and fields of its 1Password item).
SECRET_KEYS = {
    "instance_secret": "instance-secret",
    "admin_key": "admin-key",
    "dashboard_username": "dashboard-username",
    "dashboard_password": "dashboard-password",
    "dashboard_users": "users",
}

DEFAULT_OPTIONS = {
    "secret_store": "kubernetes",
    "onepassword_vault": "hansenexus",
    "cert_resolver": "letsencrypt",
    "entrypoint": "websecure",
    "storage_class": "convex-static",
    "termination_grace_seconds": 60,
    "startup_timeout_seconds": 600,
}

# A clean stop: the backend shuts down on SIGINT, Kubernetes sends SIGTERM.
PRESTOP = "kill -INT 1 2>/dev/null; while kill -0 1 2>/dev/null; do sleep 1; done"

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _meta(inst, name, component, namespaced=True):
    meta = {"name": name, "labels": naming.labels(inst["app"], inst["env"], component)}
    if namespaced:
        meta["namespace"] = inst["namespace"]
    return meta


def namespace(name):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            naming.LABEL_MANAGED_BY: naming.MANAGED_BY,
            naming.LABEL_PART_OF: "hansenexus",
        }},
    }


def persistent_volume(inst, opts):
    """A static volume at a fixed path on the data volume, pre-bound to the app's claim."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": _meta(inst, inst["volume_name"], "data", namespaced=False),
        "spec": {
            "capacity": {"storage": inst["storage_size"]},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": opts["storage_class"],
            "volumeMode": "Filesystem",
            "hostPath": {"path": inst["data_path"], "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": inst["namespace"],
                "name": inst["claim_name"],
            },
        },
    }


def persistent_volume_claim(inst, opts):
    """The claim the StatefulSet's template names, made up front: it exists (and binds) even while the
    app is scaled to 0, and a rebuilt cluster binds it to the same volume."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(inst, inst["claim_name"], "data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": opts["storage_class"],
            "volumeName": inst["volume_name"],
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": inst["storage_size"]}},
        },
    }


def onepassword_item(inst, opts):
    return {
        "apiVersion": "onepassword.com/v1",
        "kind": "OnePasswordItem",
        "metadata": _meta(inst, inst["secret_name"], "credentials"),
        "spec": {"itemPath": "vaults/%s/items/%s" % (opts["onepassword_vault"], inst["secret_name"])},
    }


def _resources(spec):
    return {k: dict(v) for k, v in (spec or {}).items() if v}


def _env(inst):
    secret_ref = {"secretKeyRef": {"name": inst["secret_name"], "key": SECRET_KEYS["instance_secret"]}}
    env = [
        {"name": "INSTANCE_NAME", "value": inst["instance_name"]},
        {"name": "INSTANCE_SECRET", "valueFrom": secret_ref},
        {"name": "CONVEX_CLOUD_ORIGIN", "value": inst["origins"]["cloud"]},
        {"name": "CONVEX_SITE_ORIGIN", "value": inst["origins"]["site"]},
    ]
    for key in sorted(inst["extra_env"]):
        env.append({"name": key, "value": str(inst["extra_env"][key])})
    return env


def _probe(path, port, period, failures):
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _pod_spec(container, **extra):
    """A pod spec with the collection's defaults: no API token, no service links, RuntimeDefault seccomp."""
    spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    spec.update(extra)
    return spec


def statefulset(inst, opts):
    labels = naming.labels(inst["app"], inst["env"], "backend")
    startup_failures = max(1, int(opts["startup_timeout_seconds"]) // 5)
    container = {
        "name": "backend",
        "image": inst["backend_image"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "api", "containerPort": API_PORT, "protocol": "TCP"},
            {"name": "site", "containerPort": SITE_PORT, "protocol": "TCP"},
        ],
        "env": _env(inst),
        "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}],
        "resources": _resources(inst["resources"]),
        # Migrations run at start after an upgrade: give them time before liveness counts.
        "startupProbe": _probe("/version", "api", 5, startup_failures),
        "readinessProbe": _probe("/version", "api", 5, 3),
        "livenessProbe": _probe("/version", "api", 20, 6),
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", PRESTOP]}}},
        "securityContext": dict(RESTRICTED),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(inst, inst["name"], "backend"),
        "spec": {
            "replicas": inst["replicas"],
            "serviceName": inst["name"],
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "OnDelete"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": naming.selector(inst["app"], inst["env"], "backend")},
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec(container,
                                  terminationGracePeriodSeconds=int(opts["termination_grace_seconds"])),
            },
            "volumeClaimTemplates": [{
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "labels": labels},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": opts["storage_class"],
                    "volumeName": inst["volume_name"],
                    "resources": {"requests": {"storage": inst["storage_size"]}},
                },
            }],
        },
    }


def _service(inst, name, component, ports):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(inst, name, component),
        "spec": {
            "type": "ClusterIP",
            "selector": naming.selector(inst["app"], inst["env"], component),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
                      for port_name, port in ports],
        },
    }


def service(inst):
    return _service(inst, inst["name"], "backend", [("api", API_PORT), ("site", SITE_PORT)])


def _route(host, service_name, port, middlewares=None):
    route = {
        "kind": "Rule",
        "match": "Host(`%s`)" % host,
        "services": [{"name": service_name, "port": port}],
    }
    if middlewares:
        route["middlewares"] = [{"name": m} for m in middlewares]
    return route


def _ingress_route(inst, name, component, routes, opts):
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": _meta(inst, name, component),
        "spec": {
            "entryPoints": [opts["entrypoint"]],
            "routes": routes,
            "tls": {"certResolver": opts["cert_resolver"]},
        },
    }


def ingress_route(inst, opts):
    """API origin (port 3210) and site origin (port 3211), TLS by the ACME resolver."""
    return _ingress_route(inst, inst["name"], "backend", [
        _route(inst["hosts"]["api"], inst["name"], API_PORT),
        _route(inst["hosts"]["site"], inst["name"], SITE_PORT),
    ], opts)


def dashboard_middleware(inst):
    """BasicAuth in front of the dashboard; the hashed users line comes from the app's Secret."""
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": _meta(inst, inst["middleware_name"], "dashboard"),
        "spec": {"basicAuth": {"secret": inst["secret_name"], "removeHeader": True}},
    }


def dashboard_deployment(inst):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(inst, inst["dashboard_name"], "dashboard"),
        "spec": {
            "replicas": inst["replicas"],
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": naming.selector(inst["app"], inst["env"], "dashboard")},
            "template": {
                "metadata": {"labels": naming.labels(inst["app"], inst["env"], "dashboard")},
                "spec": _pod_spec({
                    "name": "dashboard",
                    "image": inst["dashboard_image"],
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"name": "http", "containerPort": DASHBOARD_PORT, "protocol": "TCP"}],
                    "env": [{"name": "NEXT_PUBLIC_DEPLOYMENT_URL", "value": inst["origins"]["cloud"]}],
                    "resources": _resources(inst["dashboard_resources"]),
                    "readinessProbe": _probe("/", "http", 10, 3),
                    "securityContext": dict(RESTRICTED),
                }),
            },
        },
    }


def dashboard_service(inst):
    return _service(inst, inst["dashboard_name"], "dashboard", [("http", DASHBOARD_PORT)])


def dashboard_route(inst, opts):
    return _ingress_route(inst, inst["dashboard_name"], "dashboard", [
        _route(inst["hosts"]["dashboard"], inst["dashboard_name"], DASHBOARD_PORT, [inst["middleware_name"]]),
    ], opts)


def options(opts=None):
    merged = dict(DEFAULT_OPTIONS)
    merged.update({k: v for k, v in (opts or {}).items() if v is not None})
    return merged


def instance_objects(inst, opts=None):
    """Every object of one app environment, in apply order (Namespaces excluded)."""
    opts = options(opts)
    objs = [persistent_volume(inst, opts), persistent_volume_claim(inst, opts)]
    if opts["secret_store"] == "onepassword":
        objs.append(onepassword_item(inst, opts))
    objs += [service(inst), statefulset(inst, opts), ingress_route(inst, opts)]
    if inst["dashboard"]:
        objs += [dashboard_middleware(inst), dashboard_service(inst), dashboard_deployment(inst),
                 dashboard_route(inst, opts)]
    return objs


def namespaces(instances):
    return [namespace(ns) for ns in sorted({i["namespace"] for i in instances})]


def estate_objects(instances, opts=None):
    """Namespaces first, then every instance's objects, for the k3s instances given."""
    objs = namespaces(instances)
    for inst in instances:
        objs.extend(instance_objects(inst, opts))
    return objs

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where names are derived.

Every object name, host name, label and path the collection writes comes from
here, so templates, modules, playbooks and tests never rebuild them by string
concatenation of their own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

#: Environments an app may have, in the order they are rolled out.
ENVIRONMENTS = ("production", "staging", "preview")

#: Namespace of each environment unless the inventory says otherwise.
DEFAULT_NAMESPACES = {
    "production": "convex",
    "staging": "hn-staging",
    "preview": "hn-preview",
}

BACKEND_IMAGE = "ghcr.io/get-convex/convex-backend"
DASHBOARD_IMAGE = "ghcr.io/get-convex/convex-dashboard"

MANAGED_BY = "hansenexus.platform"
LABEL_APP = "hansenexus.dev/app"
LABEL_ENV = "hansenexus.dev/environment"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
ANNOTATION_APPLIED = "hansenexus.dev/applied-hash"

#: Kubernetes caps label values and most object names at 63 characters; the
#: StatefulSet controller appends "-" and a hash of up to 10 characters to the
#: StatefulSet name for the controller-revision-hash label, so its name must
#: stay at or below 52.
MAX_NAME = 63
MAX_STATEFULSET_NAME = 52

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
)


def is_dns_label(value):
    """True for an RFC 1123 label that also starts with a letter (RFC 1035)."""
    return isinstance(value, str) and len(value) <= MAX_NAME and bool(DNS_LABEL.match(value))


def is_dns_name(value):
    """True for a fully qualified host name with at least two labels."""
    return isinstance(value, str) and bool(DNS_NAME.match(value)) and all(
        len(part) <= MAX_NAME for part in value.split(".")
    )


def instance_id(app, env):
    """The short identity of one app environment: production is the bare app name."""
    return app if env == "production" else "%s-%s" % (app, env)


def base_name(app, env):
    """Name of the StatefulSet, its Service and IngressRoute."""
    return "convex-%s" % instance_id(app, env)


def secret_name(app, env):
    """Secret and 1Password item of an app environment: always ``convex-{app}-{env}``."""
    return "convex-%s-%s" % (app, env)


def instance_name(app, env):
    """Default INSTANCE_NAME of the backend (the admin key prefix)."""
    return secret_name(app, env)


def dashboard_name(app, env):
    return "%s-dashboard" % base_name(app, env)


def middleware_name(app, env):
    return "%s-dashboard-auth" % base_name(app, env)


def volume_name(app, env):
    """Cluster-scoped PersistentVolume of an app environment."""
    return "%s-data" % base_name(app, env)


def claim_name(app, env):
    """The claim the StatefulSet controller makes for ordinal 0."""
    return "data-%s-0" % base_name(app, env)


def pod_name(app, env):
    return "%s-0" % base_name(app, env)


def default_hosts(app, env, domain):
    """API, site and dashboard host names of an app environment."""
    ident = instance_id(app, env)
    return {
        "api": "convex-%s.%s" % (ident, domain),
        "site": "convex-%s-site.%s" % (ident, domain),
        "dashboard": "convex-%s-dashboard.%s" % (ident, domain),
    }


def data_path(root, namespace, app, env):
    """Fixed directory of an app environment's data on the node's data volume."""
    return "%s/%s/%s" % (root.rstrip("/"), namespace, base_name(app, env))


def hub_project(app, env):
    """Docker Compose project name of a hub app environment."""
    return base_name(app, env)


def object_names(app, env):
    """Every derived object name, by kind of object, for length checks."""
    return {
        "StatefulSet": base_name(app, env),
        "Service": base_name(app, env),
        "Secret": secret_name(app, env),
        "Deployment": dashboard_name(app, env),
        "Middleware": middleware_name(app, env),
        "PersistentVolume": volume_name(app, env),
        "PersistentVolumeClaim": claim_name(app, env),
    }


def name_problems(app, env):
    """Derived names that break a Kubernetes limit, most binding first, as sentences."""
    problems = []
    sts = base_name(app, env)
    if len(sts) > MAX_STATEFULSET_NAME:
        problems.append(
            "derived StatefulSet name '%s' is %d characters, the limit is %d "
            "(its pods carry a controller-revision-hash label built from it)"
            % (sts, len(sts), MAX_STATEFULSET_NAME)
        )
    for kind, name in sorted(object_names(app, env).items()):
        if len(name) > MAX_NAME:
            problems.append(
                "derived %s name '%s' is %d characters, the limit is %d"
                % (kind, name, len(name), MAX_NAME)
            )
    return problems


def labels(app, env, component):
    """Labels every object of an app environment carries."""
    return {
        LABEL_NAME: "convex",
        LABEL_INSTANCE: base_name(app, env),
        LABEL_COMPONENT: component,
        LABEL_PART_OF: "hansenexus",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_APP: app,
        LABEL_ENV: env,
    }


def selector(app, env, component):
    """The immutable selector of a workload: a subset of ``labels``."""
    return {
        LABEL_NAME: "convex",
        LABEL_INSTANCE: base_name(app, env),
        LABEL_COMPONENT: component,
    }

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate: the inventory's app list, validated and expanded.

``expand(apps, settings)`` turns the inventory's list of apps into a flat list
of *instances*, one per app and environment, with every default filled in and
every derived name computed (through ``naming``). ``problems(apps, settings)``
returns every mistake in the inventory as a sentence that names the app, the
environment and the field, so a preflight assert can stop a run before
anything changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.hansenexus.platform.plugins.module_utils import naming
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import ValidationError

PLACEMENTS = ("k3s", "hub")

#: Environment variables the collection sets itself; extra_env may not override them.
MANAGED_ENV = ("INSTANCE_NAME", "INSTANCE_SECRET", "CONVEX_CLOUD_ORIGIN", "CONVEX_SITE_ORIGIN")

#: Backend flags that are ON for any non-empty value, including "false".
FLAG_ENV = ("DISABLE_BEACON", "DO_NOT_REQUIRE_SSL", "REDACT_LOGS_TO_CLIENT")

#: Fields an app or one of its environments may set (app level = default for its environments).
INHERITED_FIELDS = (
    "version", "allow_latest", "resources", "dashboard_resources", "storage_size",
    "extra_env", "dashboard",
)
APP_FIELDS = ("name", "placement", "environments") + INHERITED_FIELDS
ENV_FIELDS = (
    "namespace", "api_host", "site_host", "dashboard_host", "replicas",
    "instance_name", "instance_secret",
) + INHERITED_FIELDS

DEFAULT_SETTINGS = {
    "domain": None,
    "version": None,
    "allow_latest": False,
    "canary": None,
    "data_root": "/mnt/data/convex",
    "storage_size": "10Gi",
    "resources": {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"memory": "2Gi"},
    },
    "dashboard_resources": {
        "requests": {"cpu": "25m", "memory": "96Mi"},
        "limits": {"memory": "256Mi"},
    },
    "namespaces": dict(naming.DEFAULT_NAMESPACES),
    # Allocatable capacity of the k3s node the requests must fit into.
    "node_capacity": {"cpu": "8", "memory": "32Gi"},
    # Share of the node kept free for k3s, Traefik, the operator and the OS.
    "node_reserved": {"cpu": "1", "memory": "4Gi"},
}

IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
SUFFIX = {
    "": 1, "m": 0.001, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15,
    "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
    "Ei": 2 ** 60,
}


def quantity(value):
    """A Kubernetes quantity ("250m", "2Gi", 8) as a float, or None when malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    match = QUANTITY.match(str(value)) if isinstance(value, str) else None
    if not match:
        return None
    return float(match.group(1)) * SUFFIX[match.group(3) or ""]


def merged_settings(settings):
    result = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in (settings or {}).items():
        if value is not None:
            result[key] = value
    return result


class _Collector:
    """Gathers problems with a uniform 'app X environment Y: field Z: ...' prefix."""

    def __init__(self):
        self.items = []

    def add(self, where, field, message):
        self.items.append("%s: field '%s': %s" % (where, field, message))


def _where(app, env=None):
    if env is None:
        return "app '%s'" % app
    return "app '%s' environment '%s'" % (app, env)


def _check_version(report, where, version, allow_latest):
    if version in (None, ""):
        report.add(where, "version", "no Convex image tag is pinned; set one (backend and dashboard share it)")
    elif not isinstance(version, str) or not IMAGE_TAG.match(version):
        report.add(where, "version", "'%s' is not a valid image tag" % (version,))
    elif version == "latest" and not allow_latest:
        report.add(where, "version", "'latest' moves under you; pin a tag or set allow_latest: true")


def _check_resources(report, where, field, value):
    if not isinstance(value, dict):
        report.add(where, field, "must be a mapping with requests and limits")
        return
    unknown = sorted(set(value) - {"requests", "limits"})
    if unknown:
        report.add(where, field, "unknown keys %s (allowed: requests, limits)" % ", ".join(unknown))
    for part in ("requests", "limits"):
        section = value.get(part) or {}
        if not isinstance(section, dict):
            report.add(where, "%s.%s" % (field, part), "must be a mapping of cpu and memory")
            continue
        for res, amount in section.items():
            if res not in ("cpu", "memory", "ephemeral-storage"):
                report.add(where, "%s.%s.%s" % (field, part, res), "unknown resource")
            elif quantity(amount) is None:
                report.add(where, "%s.%s.%s" % (field, part, res),
                           "'%s' is not a valid Kubernetes quantity" % (amount,))
    requests = value.get("requests") or {}
    limits = value.get("limits") or {}
    if isinstance(requests, dict) and isinstance(limits, dict):
        for res in ("cpu", "memory"):
            req, lim = quantity(requests.get(res, 0)), quantity(limits.get(res, 0))
            if req is not None and lim and req > lim:
                report.add(where, "%s.requests.%s" % (field, res), "request is above its limit")


def _check_extra_env(report, where, extra_env):
    if not isinstance(extra_env, dict):
        report.add(where, "extra_env", "must be a mapping of variable name to value")
        return
    for key, value in sorted(extra_env.items()):
        field = "extra_env.%s" % key
        if not ENV_NAME.match(str(key)):
            report.add(where, field, "not a valid environment variable name")
        elif key in MANAGED_ENV:
            report.add(where, field, "is set by the collection and cannot be overridden")
        elif key in FLAG_ENV and (value is False or str(value).lower() in ("false", "0", "no", "off", "")):
            report.add(where, field, "the backend turns this flag on for any value, even '%s'; "
                       "remove the variable to turn it off" % (value,))
        elif isinstance(value, (dict, list)):
            report.add(where, field, "must be a string, not a %s" % type(value).__name__)


def _check_unknown(report, where, given, allowed):
    for key in sorted(set(given) - set(allowed)):
        report.add(where, key, "unknown field (allowed: %s)" % ", ".join(sorted(allowed)))


def _check_instance(report, inst, settings, env_item):
    where = _where(inst["app"], inst["env"])
    _check_version(report, where, inst["version"], inst["allow_latest"])
    if not naming.is_dns_label(inst["namespace"]):
        report.add(where, "namespace", "'%s' is not a valid namespace name" % (inst["namespace"],))
    for role in ("api", "site", "dashboard"):
        if not settings["_domain_valid"] and not inst["explicit_hosts"].get(role):
            continue  # derived from the bad domain, already reported
        if not naming.is_dns_name(inst["hosts"][role]):
            report.add(where, "%s_host" % role, "'%s' is not a valid host name" % (inst["hosts"][role],))
    replicas = inst["replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        report.add(where, "replicas", "must be 0 or 1, got %r" % (replicas,))
    elif replicas < 0:
        report.add(where, "replicas", "cannot be negative (got %d)" % replicas)
    elif replicas > 1:
        report.add(where, "replicas", "a Convex backend runs one replica only; two processes on "
                   "one volume corrupt it (got %d)" % replicas)
    if quantity(inst["storage_size"]) in (None, 0.0):
        report.add(where, "storage_size", "'%s' is not a valid Kubernetes quantity" % (inst["storage_size"],))
    _check_resources(report, where, "resources", inst["resources"])
    _check_resources(report, where, "dashboard_resources", inst["dashboard_resources"])
    _check_extra_env(report, where, inst["extra_env"])
    if not isinstance(inst["dashboard"], bool):
        report.add(where, "dashboard", "must be true or false")
    name = inst["instance_name"]
    if not isinstance(name, str) or not name or "|" in name or ":" in name or len(name) > 128:
        report.add(where, "instance_name", "must be a non-empty string without '|' or ':'")
    secret = env_item.get("instance_secret")
    if secret is not None:
        if not isinstance(secret, str):
            report.add(where, "instance_secret", "must be a string of 64 hex characters")
        elif secret != secret.strip():
            report.add(where, "instance_secret", "has leading or trailing white space (a newline?); "
                       "the backend refuses such a secret")
        elif not HEX64.match(secret):
            report.add(where, "instance_secret", "must be exactly 64 lowercase hex characters "
                       "(32 bytes), got %d characters" % len(secret))
    too_long = naming.name_problems(inst["app"], inst["env"])
    if too_long:
        report.add(where, "name", too_long[0] + "; choose a shorter app name")


def _build_instance(app, env, app_item, env_item, settings):
    """One app environment with every default resolved."""
    def pick(field):
        if field in env_item:
            return env_item[field]
        if field in app_item:
            return app_item[field]
        return settings.get(field)

    hosts = naming.default_hosts(app, env, settings.get("domain") or "invalid")
    explicit = {}
    for role in ("api", "site", "dashboard"):
        if env_item.get("%s_host" % role):
            hosts[role] = explicit[role] = env_item["%s_host" % role]
    namespace = env_item.get("namespace") or settings["namespaces"].get(env) or naming.DEFAULT_NAMESPACES.get(env)
    version = pick("version")
    inst = {
        "app": app,
        "env": env,
        "id": naming.instance_id(app, env),
        "placement": app_item.get("placement", "k3s"),
        "namespace": namespace,
        "name": naming.base_name(app, env),
        "secret_name": naming.secret_name(app, env),
        "instance_name": env_item.get("instance_name") or naming.instance_name(app, env),
        "hosts": hosts,
        "explicit_hosts": explicit,
        "origins": {"cloud": "https://%s" % hosts["api"], "site": "https://%s" % hosts["site"]},
        "replicas": env_item.get("replicas", 1),
        "version": version,
        "allow_latest": bool(pick("allow_latest")),
        "backend_image": "%s:%s" % (naming.BACKEND_IMAGE, version),
        "dashboard_image": "%s:%s" % (naming.DASHBOARD_IMAGE, version),
        "storage_size": pick("storage_size"),
        "resources": pick("resources"),
        "dashboard_resources": pick("dashboard_resources"),
        "dashboard": pick("dashboard") if pick("dashboard") is not None else True,
        "extra_env": _merged_env(app_item.get("extra_env"), env_item.get("extra_env")),
        "data_path": naming.data_path(settings["data_root"], namespace or "invalid", app, env),
        "volume_name": naming.volume_name(app, env),
        "claim_name": naming.claim_name(app, env),
        "pod_name": naming.pod_name(app, env),
        "hub_project": naming.hub_project(app, env),
        "dashboard_name": naming.dashboard_name(app, env),
        "middleware_name": naming.middleware_name(app, env),
        "canary": app == settings.get("canary"),
    }
    return inst


def _merged_env(app_env, env_env):
    """Environment-level extra_env over app-level; a malformed one is passed on for the checks."""
    app_env, env_env = app_env or {}, env_env or {}
    if not isinstance(app_env, dict):
        return app_env
    if not isinstance(env_env, dict):
        return env_env
    merged = dict(app_env)
    merged.update(env_env)
    return merged


def _walk(apps, settings, report):
    """(instance, its inventory entry) pairs, reporting structural problems on the way."""
    if not isinstance(apps, list):
        report.add("inventory", "apps", "must be a list of apps, got %s" % type(apps).__name__)
        return []
    instances = []
    seen = {}
    for index, item in enumerate(apps):
        if not isinstance(item, dict):
            report.add("app #%d" % (index + 1), "name", "each app must be a mapping with at least a name")
            continue
        app = item.get("name")
        if not app:
            report.add("app #%d" % (index + 1), "name", "missing")
            continue
        where = _where(app)
        if not naming.is_dns_label(app):
            report.add(where, "name", "'%s' is not a valid DNS label (lowercase letters, digits and '-', "
                       "starting with a letter)" % (app,))
            continue
        if app in seen:
            report.add(where, "name", "duplicate app (entries #%d and #%d)" % (seen[app] + 1, index + 1))
            continue
        seen[app] = index
        _check_unknown(report, where, item, APP_FIELDS)
        placement = item.get("placement", "k3s")
        if placement not in PLACEMENTS:
            report.add(where, "placement", "'%s' is not one of %s" % (placement, ", ".join(PLACEMENTS)))
        envs = item.get("environments")
        if envs is None:
            envs = {"production": {}}
        if not isinstance(envs, dict) or not envs:
            report.add(where, "environments", "must be a non-empty mapping of environment to settings")
            continue
        for env in naming.ENVIRONMENTS + tuple(sorted(set(envs) - set(naming.ENVIRONMENTS))):
            if env not in envs:
                continue
            env_item = envs[env] if envs[env] is not None else {}
            if env not in naming.ENVIRONMENTS:
                report.add(where, "environments.%s" % env, "unknown environment (allowed: %s)"
                           % ", ".join(naming.ENVIRONMENTS))
                continue
            if not isinstance(env_item, dict):
                report.add(_where(app, env), "environments.%s" % env, "must be a mapping")
                continue
            _check_unknown(report, _where(app, env), env_item, ENV_FIELDS)
            instances.append((_build_instance(app, env, item, env_item, settings), env_item))
    return instances


def _check_estate(report, instances, settings):
    """Problems that only show across apps."""
    owner = {}
    for inst in instances:
        for role in ("api", "site", "dashboard"):
            host = inst["hosts"][role]
            other = owner.get(host)
            if other and other != (inst["app"], inst["env"], role):
                report.add(_where(inst["app"], inst["env"]), "%s_host" % role,
                           "'%s' is already used by app '%s' environment '%s' (%s_host)"
                           % (host, other[0], other[1], other[2]))
            else:
                owner[host] = (inst["app"], inst["env"], role)
    canary = settings.get("canary")
    if canary:
        placed = [i for i in instances if i["app"] == canary]
        if not placed:
            report.add("inventory", "canary", "app '%s' is not in the app list" % canary)
        elif placed[0]["placement"] != "k3s":
            report.add(_where(canary), "placement", "the canary must run on k3s, not on the hub")
    _check_capacity(report, instances, settings)


def _check_capacity(report, instances, settings):
    """The running k3s instances' requests must fit the node, less its reserve."""
    for res in ("cpu", "memory"):
        capacity = quantity((settings.get("node_capacity") or {}).get(res))
        reserved = quantity((settings.get("node_reserved") or {}).get(res, 0)) or 0.0
        if capacity is None:
            report.add("inventory", "node_capacity.%s" % res, "not a valid Kubernetes quantity")
            continue
        total = 0.0
        for inst in instances:
            if inst["placement"] != "k3s" or inst["replicas"] != 1:
                continue
            for field, enabled in (("resources", True), ("dashboard_resources", inst["dashboard"])):
                requests = (inst[field] or {}).get("requests") if isinstance(inst[field], dict) else None
                if enabled and isinstance(requests, dict):
                    total += quantity(requests.get(res, 0)) or 0.0
        if total > capacity - reserved:
            report.add("inventory", "resources.requests.%s" % res,
                       "the running apps request %s in all, more than the node's %s less %s reserved"
                       % (_fmt(total, res), _fmt(capacity, res), _fmt(reserved, res)))


def _fmt(value, res):
    if res == "memory":
        return "%.1fGi" % (value / 2 ** 30)
    return "%g CPU" % value


def _analyse(apps, settings):
    """(problems, instances): one walk over the inventory serves both."""
    settings = merged_settings(settings)
    report = _Collector()
    domain = settings.get("domain")
    settings["_domain_valid"] = naming.is_dns_name(domain)
    if not settings["_domain_valid"]:
        report.add("inventory", "domain", "'%s' is not a valid domain" % (domain,))
    pairs = _walk(apps, settings, report)
    for inst, env_item in pairs:
        _check_instance(report, inst, settings, env_item)
    instances = [inst for inst, _item in pairs]
    _check_estate(report, instances, settings)
    return report.items, instances


def analyse(apps, settings=None, placement=None):
    """``{"problems": [...], "instances": [...]}``: the instances (of one placement) only when there is no problem."""
    found, instances = _analyse(apps, settings)
    if found:
        return {"problems": found, "instances": []}
    return {"problems": [], "instances": [i for i in instances if not placement or i["placement"] == placement]}


def problems(apps, settings=None):
    """Every inventory mistake as a sentence; an empty list when the estate is valid."""
    return _analyse(apps, settings)[0]


def expand(apps, settings=None, placement=None):
    """The validated instances, optionally only those of one placement (k3s or hub)."""
    found, instances = _analyse(apps, settings)
    if found:
        raise ValidationError("invalid estate:\n- " + "\n- ".join(found))
    if placement:
        instances = [i for i in instances if i["placement"] == placement]
    return instances


def fixed_secrets(apps):
    """Instance secrets the inventory sets explicitly, by secret name (kept out of instances)."""
    found = {}
    for item in apps if isinstance(apps, list) else []:
        envs = item.get("environments") if isinstance(item, dict) else None
        for env, env_item in (envs or {}).items() if isinstance(envs, dict) else []:
            if isinstance(env_item, dict) and env_item.get("instance_secret"):
                found[naming.secret_name(item.get("name"), env)] = env_item["instance_secret"]
    return found


def rollout_order(instances, canary=None, only=None):
    """Instances in upgrade order: the canary's first, then inventory order.

    ``only`` limits the set to the named apps (the canary still goes first when
    it is among them).
    """
    chosen = [i for i in instances if not only or i["app"] in only]
    first = [i for i in chosen if i["app"] == canary]
    return first + [i for i in chosen if i["app"] != canary]

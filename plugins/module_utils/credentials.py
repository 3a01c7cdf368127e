# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials of an app environment: instance secret, admin key, dashboard login.

Plan first, store second, use third. ``plan_credentials`` takes what the
secret store holds (possibly nothing) and returns what it must hold: an
existing instance secret is never replaced, only missing or broken derived
values (admin key, dashboard hash) are (re)made. The caller writes the result
to the store before any workload refers to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

try:
    import bcrypt
    HAS_BCRYPT = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_BCRYPT = False

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys, naming
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError
from ansible_collections.hansenexus.platform.plugins.module_utils.kube import NotFound
from ansible_collections.hansenexus.platform.plugins.module_utils.manifests import SECRET_KEYS

PASSWORD_BYTES = 24
# The dashboard password is 24 random bytes (192 bits): no work factor adds anything against guessing it,
# while every converge verifies every stored hash. Cost 6 keeps that check at a few milliseconds per app
# environment (cost 10 took ~90 ms); a stored hash of another cost is re-hashed once.
BCRYPT_ROUNDS = 6


def hash_password(username, password):
    """An htpasswd line with a bcrypt hash, as Traefik's BasicAuth reads it."""
    if not HAS_BCRYPT:
        raise PlatformError("the bcrypt Python package is required to hash dashboard passwords")
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")
    return "%s:%s" % (username, hashed)


def users_line_matches(line, username, password):
    """True when the htpasswd line is this user's, at our bcrypt cost, for this password."""
    if not HAS_BCRYPT or not line or ":" not in line:
        return False
    user, hashed = line.strip().split(":", 1)
    if user != username or not hashed.startswith(("$2b$%02d$" % BCRYPT_ROUNDS, "$2y$%02d$" % BCRYPT_ROUNDS)):
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except (ValueError, TypeError):
        return False


def plan_credentials(stored, instance_name, username, wanted_secret=None, where="credentials", generate=True):
    """What the store must hold, and why it differs from what it holds.

    ``stored`` maps SECRET_KEYS names (instance_secret, admin_key, ...) to
    values, or is None/empty when nothing is stored. Returns ``(values,
    changes)``: the complete values, and a list of short reasons (empty when
    the store is already right). Never returns a new instance secret for a
    store that has one. With ``generate`` false (a rebuild), a missing
    instance secret is an error instead: the old one must come back.
    """
    stored = dict(stored or {})
    values = dict(stored)
    changes = []
    secret = stored.get("instance_secret")
    if secret:
        try:
            convex_keys.validate_instance_secret(secret)
        except PlatformError as exc:
            raise ValidationError("%s: the stored instance secret is malformed (%s); it is never replaced "
                                  "automatically, fix it in the secret store" % (where, exc))
        if wanted_secret and wanted_secret != secret:
            raise ValidationError("%s: the inventory's instance_secret differs from the stored one; "
                                  "refusing to replace a secret (it would invalidate every admin key)" % where)
    else:
        if not (wanted_secret or generate):
            raise ValidationError(
                "%s: the secret store holds no instance secret, and this run may not create one (a new secret "
                "would start the backend on a new identity and invalidate every admin key issued before). "
                "Restore the credentials into the secret store, or pin the old secret in "
                "convex_apps_instance_secrets" % where)
        if wanted_secret:
            convex_keys.validate_instance_secret(wanted_secret)
        values["instance_secret"] = wanted_secret or convex_keys.generate_instance_secret()
        changes.append("instance secret created")
    key = stored.get("admin_key")
    check = None
    if key:
        try:
            check = convex_keys.check_admin_key(key, instance_name, values["instance_secret"])
        except PlatformError:
            check = None
    if not (check and check.valid):
        values["admin_key"] = convex_keys.issue_admin_key(instance_name, values["instance_secret"])
        changes.append("admin key issued" if not key else "admin key re-issued (the stored one is not valid "
                       "for instance '%s')" % instance_name)
    if stored.get("dashboard_username") != username:
        values["dashboard_username"] = username
        changes.append("dashboard user set")
    if not stored.get("dashboard_password"):
        values["dashboard_password"] = secrets.token_urlsafe(PASSWORD_BYTES)
        changes.append("dashboard password created")
    if not users_line_matches(stored.get("dashboard_users"), values["dashboard_username"],
                              values["dashboard_password"]):
        values["dashboard_users"] = hash_password(values["dashboard_username"], values["dashboard_password"])
        changes.append("dashboard password hashed")
    return values, changes


def decode_secret(obj):
    """SECRET_KEYS-named values from a Kubernetes Secret object (None when missing)."""
    if not obj:
        return None
    data = obj.get("data") or {}
    out = {}
    for name, key in SECRET_KEYS.items():
        if key in data:
            out[name] = base64.b64decode(data[key]).decode("utf-8")
    return out


def secret_object(inst, values):
    """The Kubernetes Secret holding an app environment's credentials."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": inst["secret_name"],
            "namespace": inst["namespace"],
            "labels": naming.labels(inst["app"], inst["env"], "credentials"),
        },
        "data": {
            SECRET_KEYS[name]: base64.b64encode(value.encode("utf-8")).decode("ascii")
            for name, value in sorted(values.items()) if name in SECRET_KEYS
        },
    }


def _where(inst):
    return "app '%s' environment '%s'" % (inst["app"], inst["env"])


def _result(inst, changes, existed):
    return {"app": inst["app"], "environment": inst["env"], "namespace": inst["namespace"],
            "secret": inst["secret_name"], "changed": bool(changes), "changes": changes,
            "action": "none" if not changes else ("update" if existed else "create")}


def plan_for_store(inst, stored, username, wanted_secret=None, generate=True):
    """For an external store: the result plus the complete ``values`` to write there."""
    values, changes = plan_credentials(stored, inst["instance_name"], username, wanted_secret, _where(inst),
                                       generate)
    result = _result(inst, changes, bool(stored))
    # Encoded: Ansible masks every returned substring equal to a value of a no_log option (the stored ones),
    # which would corrupt kept values such as the dashboard user inside the htpasswd line.
    result["values_b64"] = base64.b64encode(json.dumps(values, sort_keys=True).encode("utf-8")).decode("ascii")
    return result


def read_kubernetes(kube, instances):
    """Live Secrets by (namespace, name), one LIST per namespace (an absent namespace holds none)."""
    live = {}
    for namespace in sorted({inst["namespace"] for inst in instances}):
        try:
            items = kube.list("v1", "Secret", namespace=namespace)
        except NotFound:
            items = []
        for item in items:
            live[(namespace, item["metadata"]["name"])] = item
    return live


def plan_kubernetes(kube, instances, username, wanted_secrets=None, generate=True, workers=8):
    """Every instance's plan ``(inst, current, values, changes)``, read and checked before anything is written.

    One bad instance fails the whole plan, so no Secret is written for a run that cannot complete.
    """
    wanted_secrets = wanted_secrets or {}
    live = read_kubernetes(kube, instances)

    def plan(inst):
        current = live.get((inst["namespace"], inst["secret_name"]))
        try:
            values, changes = plan_credentials(decode_secret(current), inst["instance_name"], username,
                                               wanted_secrets.get(inst["secret_name"]), _where(inst), generate)
        except ValidationError as exc:
            return exc
        return inst, current, values, changes

    if len(instances) < 2:
        plans = [plan(inst) for inst in instances]
    else:
        # bcrypt releases the GIL: the hash checks run side by side.
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(instances)))) as pool:
            plans = list(pool.map(plan, instances))
    problems = [str(p) for p in plans if isinstance(p, ValidationError)]
    if problems:
        raise ValidationError(" | ".join(problems))
    return plans


def write_kubernetes(kube, plans, check_mode=False):
    """Create or complete the planned Secrets; results without secret values."""
    results = []
    for inst, current, values, changes in plans:
        results.append(_result(inst, changes, current is not None))
        if not changes or check_mode:
            continue
        obj = secret_object(inst, values)
        if current is None:
            kube.create(obj)
        else:
            # Replace under the resourceVersion just read: a concurrent writer makes this fail, not race.
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            kube.request("PUT", kube.path("v1", "Secret", inst["secret_name"], inst["namespace"]), body=obj)
    return results


def ensure_in_kubernetes(kube, instances, username, wanted_secrets=None, check_mode=False, generate=True,
                         workers=8):
    """Make every instance's Secret complete: plan them all, then write. Results carry no secret values."""
    return write_kubernetes(kube, plan_kubernetes(kube, instances, username, wanted_secrets, generate, workers),
                            check_mode)


def from_onepassword(item_info_results):
    """SECRET_KEYS-named values by item title, from looped onepassword.connect.item_info results."""
    by_label = dict((key, name) for name, key in SECRET_KEYS.items())
    stored = {}
    for result in item_info_results or []:
        item = result.get("op_item") or {}
        title = item.get("title") or (result.get("item") or {}).get("secret_name")
        if not item or not title:
            continue
        fields = item.get("fields") or {}
        stored[title] = dict(
            (by_label[label], field.get("value")) for label, field in fields.items()
            if label in by_label and isinstance(field, dict) and field.get("value")
        )
    return stored


def onepassword_fields(values):
    """onepassword.connect.generic_item fields holding the planned values (never generated there)."""
    return [
        {"label": SECRET_KEYS[name], "value": values[name], "generate_value": "never",
         "field_type": "string" if name == "dashboard_username" else "concealed"}
        for name in sorted(values) if name in SECRET_KEYS
    ]

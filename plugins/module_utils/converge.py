# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One converge of the Convex app environments on k3s, in one pass over one connection.

Reads and checks come first, so a refused run changes nothing: the running
backends' images (a converge never changes one; upgrades do), then every
instance's credentials (planned in full before one is written). Then the
writes, in the order the objects need each other: namespaces, credentials
(stored before any workload refers to them), then everything else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.hansenexus.platform.plugins.module_utils import credentials, kube, manifests, rollout
from ansible_collections.hansenexus.platform.plugins.module_utils.apply import Batch, summarize
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError
from ansible_collections.hansenexus.platform.plugins.module_utils.runner import missing_library

STATEFULSET = {"apiVersion": "apps/v1", "kind": "StatefulSet"}
UPGRADE_HINT = ("Roll a new version out with ansible-playbook playbooks/upgrade.yml (backup, canary first), "
                "or set convex_apps_allow_image_change=true")


def image_changes(live_statefulsets, instances):
    """Sentences for running backends whose image the instances would change."""
    wanted = dict(((i["namespace"], i["name"]), i) for i in instances)
    changes = []
    for sts in live_statefulsets:
        meta = sts.get("metadata") or {}
        inst = wanted.get((meta.get("namespace"), meta.get("name")))
        live = rollout.container_image(sts, "backend")
        if inst and live and live != inst["backend_image"]:
            changes.append("app '%s' environment '%s': field 'version': the backend runs %s, the inventory pins %s"
                           % (inst["app"], inst["env"], live.rsplit(":", 1)[-1], inst["version"]))
    return changes


class Converge:
    """The apps layer: image guard, namespaces, credentials (plain Secrets), objects, removed apps."""

    def __init__(self, kube, check_mode=False, workers=8):
        self.kube = kube
        self.check_mode = check_mode
        self.workers = workers
        self.batch = Batch(kube, check_mode, workers)

    def run(self, instances, resources, selector, allow_image_change=False, secrets=None,
            prune_kinds=(), prune=False, prune_selector=None):
        """Results: resources (per object), credentials (per instance, no values), orphans, pruned.

        ``secrets`` is None when another store (1Password) holds the credentials, else a dict with
        ``username``, ``instance_secrets`` (fixed by the inventory) and ``generate`` (False in a rebuild).

        Every read comes first, side by side: the managed objects of ``prune_kinds`` (the objects this run
        creates are all desired, so listing removed apps' objects before the writes finds the same orphans)
        and the running StatefulSets of the image guard, while the credentials are planned.
        """
        prune_kinds = list(prune_kinds)
        orphan_selector = prune_selector or selector
        queries = [(spec, orphan_selector) for spec in prune_kinds]
        if not allow_image_change:
            queries.append((STATEFULSET, selector))
        with ThreadPoolExecutor(max_workers=1) as reader:
            listing = reader.submit(self.batch.managed, queries)
            plans = []
            if secrets is not None:
                plans = credentials.plan_kubernetes(self.kube, instances, secrets["username"],
                                                    secrets.get("instance_secrets"), secrets.get("generate", True),
                                                    self.workers)
            listed = listing.result()
        if not allow_image_change:
            changes = image_changes(listed.pop(), instances)
            if changes:
                raise ValidationError("%s. %s." % ("; ".join(changes), UPGRADE_HINT))
        namespaces = [o for o in resources if o["kind"] == "Namespace"]
        others = [o for o in resources if o["kind"] != "Namespace"]
        results = self.batch.converge(namespaces)
        stored = credentials.write_kubernetes(self.kube, plans, self.check_mode)
        results += self.batch.converge(others)
        orphans = self.batch.orphans(prune_kinds, orphan_selector, resources, listed) if prune_kinds else []
        pruned = self.batch.delete(orphans) if prune else 0
        return {"resources": results, "credentials": stored, "orphans": orphans, "pruned": pruned}


#: The convex_converge module's arguments (see runner.py).
ARGUMENTS = dict(argument_spec=kube.argument_spec(
    instances=dict(type="list", elements="dict", required=True),
    options=dict(type="dict", default={}),
    resources=dict(type="list", elements="dict"),
    selector=dict(type="str", required=True),
    allow_image_change=dict(type="bool", default=False),
    store=dict(type="str", choices=["kubernetes", "external"], default="kubernetes"),
    instance_secrets=dict(type="dict", default={}, no_log=True),
    generate=dict(type="bool", default=True),
    dashboard_username=dict(type="str", default="admin"),
    workers=dict(type="int", default=8),
    prune_kinds=dict(type="list", elements="dict", default=[]),
    prune_selector=dict(type="str"),
    prune=dict(type="bool", default=False),
))


def run(call):
    """The convex_converge module: one converge of the instances (rendered unless resources are given)."""
    params = call.params
    secrets = None
    if params["store"] == "kubernetes":
        if not credentials.HAS_BCRYPT:
            raise missing_library("bcrypt")
        secrets = {"username": params["dashboard_username"], "instance_secrets": params["instance_secrets"],
                   "generate": params["generate"]}
    resources = params["resources"]
    if resources is None:
        resources = manifests.estate_objects(params["instances"], params["options"])
    try:
        with kube.connect(params, params["workers"]) as client:
            out = Converge(client, call.check_mode, params["workers"]).run(
                params["instances"], resources, params["selector"], params["allow_image_change"], secrets,
                params["prune_kinds"], params["prune"], params["prune_selector"])
    except PlatformError as exc:
        raise PlatformError("Converging the Convex apps failed (nothing after the failing step was changed): %s"
                            % exc)
    summary, diffs = summarize(out["resources"])
    changed = bool(diffs) or out["pruned"] > 0 or any(c["changed"] for c in out["credentials"])
    return dict(changed=changed, summary=summary, diff=diffs if call.diff else None, **out)

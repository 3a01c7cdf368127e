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

from ansible_collections.hansenexus.platform.plugins.module_utils import credentials, rollout
from ansible_collections.hansenexus.platform.plugins.module_utils.apply import Batch
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import ValidationError

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


def check_images(kube, instances, selector):
    """Refuse (ValidationError) when the instances would change a running backend's image."""
    changes = image_changes(kube.list("apps/v1", "StatefulSet", label_selector=selector), instances)
    if changes:
        raise ValidationError("%s. %s." % ("; ".join(changes), UPGRADE_HINT))


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
        """
        if not allow_image_change:
            check_images(self.kube, instances, selector)
        plans = []
        if secrets is not None:
            plans = credentials.plan_kubernetes(self.kube, instances, secrets["username"],
                                                secrets.get("instance_secrets"), secrets.get("generate", True),
                                                self.workers)
        namespaces = [o for o in resources if o["kind"] == "Namespace"]
        others = [o for o in resources if o["kind"] != "Namespace"]
        results = self.batch.converge(namespaces)
        stored = credentials.write_kubernetes(self.kube, plans, self.check_mode)
        results += self.batch.converge(others)
        orphans = self.batch.orphans(prune_kinds, prune_selector or selector, resources) if prune_kinds else []
        pruned = self.batch.delete(orphans) if prune else 0
        return {"resources": results, "credentials": stored, "orphans": orphans, "pruned": pruned}

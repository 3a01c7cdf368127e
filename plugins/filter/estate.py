# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the estate logic of module_utils to roles and playbooks.

- ``apps | hansenexus.platform.convex_estate(settings, placement)``: ``{problems, instances}`` in one walk.
- ``apps | hansenexus.platform.convex_estate_problems(settings)``: inventory mistakes, as sentences.
- ``apps | hansenexus.platform.convex_instances(settings, placement=None)``: one dict per app environment.
- ``instances | hansenexus.platform.convex_manifests(options)``: every Kubernetes object, namespaces first.
- ``instance | hansenexus.platform.convex_instance_manifests(options)``: the objects of one app environment.
- ``instances | hansenexus.platform.convex_rollout_order(canary, only)``: canary first, then inventory order.
- ``instances | hansenexus.platform.convex_namespaces``: the Namespace objects.
- ``apps | hansenexus.platform.convex_instance_secrets``: instance secrets fixed in the inventory.
- ``live_statefulsets | hansenexus.platform.convex_image_changes(instances)``: image changes a converge would make.
- ``metadata | hansenexus.platform.object_key``: ``namespace/name`` (or ``name``) for indexing objects.
- ``results | hansenexus.platform.convex_onepassword_stored`` and ``values | convex_onepassword_fields``:
  translation between 1Password items and the credentials plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.hansenexus.platform.plugins.module_utils import (
    converge, credentials, estate, hub, manifests, render)
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError
from ansible_collections.hansenexus.platform.plugins.plugin_utils.controller import plain as _plain


def convex_estate(apps, settings=None, placement=None):
    return estate.analyse(_plain(apps), _plain(settings), placement)


def convex_estate_problems(apps, settings=None):
    return estate.problems(_plain(apps), _plain(settings))


def convex_instances(apps, settings=None, placement=None):
    try:
        return estate.expand(_plain(apps), _plain(settings), placement)
    except PlatformError as exc:
        raise AnsibleFilterError(str(exc))


def convex_manifests(instances, options=None, namespaces=True):
    objs = manifests.estate_objects(_plain(instances), _plain(options))
    return objs if namespaces else [o for o in objs if o["kind"] != "Namespace"]


def convex_namespaces(instances):
    return manifests.namespaces(_plain(instances))


def convex_instance_secrets(apps):
    """Instance secrets the inventory fixes, by secret name (for the no_log credentials option)."""
    return estate.fixed_secrets(_plain(apps))


def convex_onepassword_stored(item_info_results):
    """What 1Password holds, by item title, from looped onepassword.connect.item_info results."""
    return credentials.from_onepassword(_plain(item_info_results))


def convex_onepassword_fields(values):
    """generic_item fields for the planned values of one item."""
    return credentials.onepassword_fields(_plain(values))


def convex_instance_manifests(instance, options=None):
    return manifests.instance_objects(_plain(instance), _plain(options))


def convex_rollout_order(instances, canary=None, only=None):
    if isinstance(only, str):
        only = [a.strip() for a in only.split(",") if a.strip()]
    return estate.rollout_order(_plain(instances), canary, only)


def to_manifest_yaml(objects):
    """Objects as one multi-document YAML stream, exactly as kube_apply applies them (applied-hash included)."""
    return render.manifest_yaml(_plain(objects))


def convex_image_changes(live_statefulsets, instances):
    """Sentences for running backends whose image the instances would change."""
    return converge.image_changes(_plain(live_statefulsets), _plain(instances))


def convex_hub_ports(slurped, projects, base, step, proxy_base, pinned=None):
    """{"ports": {project: {api, site, dashboard, proxy}}, "problems": [...]} (module_utils/hub.py).

    ``slurped``: the results of slurping each project's compose.yaml (``item`` = project), missing ones failed.
    """
    current = {}
    for result in _plain(slurped or []):
        if result.get("content"):
            text = base64.b64decode(result["content"]).decode("utf-8", "replace")
            current[result["item"]] = hub.published_ports(text)
    ports, problems = hub.assign_ports(_plain(projects), _plain(base), step, proxy_base, _plain(pinned), current)
    return {"ports": ports, "problems": problems}


def object_key(metadata):
    """``namespace/name`` of a namespaced object's metadata, ``name`` of a cluster-scoped one."""
    metadata = _plain(metadata)
    return "%s/%s" % (metadata["namespace"], metadata["name"]) if metadata.get("namespace") else metadata["name"]


class FilterModule(object):
    def filters(self):
        return {
            "convex_estate": convex_estate,
            "convex_estate_problems": convex_estate_problems,
            "convex_instances": convex_instances,
            "convex_manifests": convex_manifests,
            "convex_namespaces": convex_namespaces,
            "convex_instance_secrets": convex_instance_secrets,
            "convex_onepassword_stored": convex_onepassword_stored,
            "convex_onepassword_fields": convex_onepassword_fields,
            "convex_instance_manifests": convex_instance_manifests,
            "convex_rollout_order": convex_rollout_order,
            "to_manifest_yaml": to_manifest_yaml,
            "object_key": object_key,
            "convex_image_changes": convex_image_changes,
            "convex_hub_ports": convex_hub_ports,
        }

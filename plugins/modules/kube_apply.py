#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kube_apply
short_description: Converge a batch of Kubernetes objects in one call
version_added: 0.1.0
description:
  - Server-side applies a list of Kubernetes objects with the field manager C(hansenexus.platform).
  - Each object is read once; an object that already carries the desired state (tracked by a
    C(hansenexus.dev/applied-hash) annotation plus a field-by-field comparison) is not written at all,
    so a converged estate costs one read per object.
  - Cluster-scoped objects (Namespaces, PersistentVolumes) are applied before the rest; within each
    phase objects are applied concurrently.
  - Objects the batch no longer names but that carry O(prune_selector) are reported as orphans, and
    deleted only when O(prune=true).
  - Values of Secrets are replaced by C(<redacted>) in diffs and results.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
  - hansenexus.platform.kube.controller
attributes:
  check_mode:
    support: full
    description: Changes are predicted by server-side dry runs; objects of namespaces that do not exist yet are reported as created.
  diff_mode:
    support: full
    description: One diff per created or updated object, Secret values redacted.
options:
  resources:
    description: The objects to converge, each a complete Kubernetes object with apiVersion, kind and metadata.name.
    type: list
    elements: dict
    required: true
  workers:
    description: Requests in flight at once.
    type: int
    default: 8
  prune_selector:
    description: Label selector of objects this batch owns; those of O(prune_kinds) not in O(resources) are orphans.
    type: str
  prune_kinds:
    description: Kinds searched for orphans, each a dict with C(apiVersion) and C(kind).
    type: list
    elements: dict
    default: []
  prune:
    description: Delete the orphans found. Without it they are only reported.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Converge the rendered estate
  hansenexus.platform.kube_apply:
    kubeconfig: ~/.kube/hn-k3s.yaml
    resources: "{{ instances | hansenexus.platform.convex_manifests }}"
    prune_selector: app.kubernetes.io/managed-by=hansenexus.platform
    prune_kinds:
      - {apiVersion: apps/v1, kind: StatefulSet}
"""

RETURN = r"""
resources:
  description: One entry per object, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: StatefulSet, apiVersion: apps/v1, name: convex-planex, namespace: convex, action: update, changed: true}
summary:
  description: How many objects were created, updated and left alone.
  returned: always
  type: dict
  sample: {create: 1, update: 0, none: 40}
orphans:
  description: Objects carrying O(prune_selector) that the batch no longer names.
  returned: always
  type: list
  elements: dict
  sample:
    - {apiVersion: apps/v1, kind: StatefulSet, name: convex-oldapp, namespace: convex, app: oldapp, environment: production}
pruned:
  description: How many orphans were deleted (or would be, in check mode).
  returned: always
  type: int
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import apply, runner


def main():
    runner.main(apply.ARGUMENTS, apply.run)


if __name__ == "__main__":
    main()

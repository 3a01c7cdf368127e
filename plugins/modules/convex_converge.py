#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_converge
short_description: Converge every Convex app environment on the cluster in one call
version_added: 0.2.0
description:
  - The apps layer of the estate in one module run over one connection. First the reads and checks, so
    that a refused run changes nothing - no running backend's image may change (that is the upgrade
    playbook's job), and every instance's credentials are planned before one is written. Then the writes
    in the order the objects need each other - namespaces, credentials (stored before any workload refers
    to them), then every other object with server-side apply.
  - Objects whose applied-hash annotation and fields already match are not sent at all; one LIST per kind
    and namespace reads them.
  - With O(store=kubernetes) the credentials live in plain Secrets C(convex-{app}-{env}), made once and
    never regenerated (see M(hansenexus.platform.convex_credentials)). With O(store=external) another store
    (1Password) holds them and this module does not touch them.
  - No secret value is ever returned; diffs of Secrets are redacted.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
  - hansenexus.platform.kube.controller
  - hansenexus.platform.kube.instances
requirements:
  - bcrypt >= 4.0.0
  - cryptography >= 42.0.0
attributes:
  check_mode:
    support: full
    description: The checks run; every write is a server dry run, or predicted when its namespace is missing.
  diff_mode:
    support: full
    description: Before and after of each changed object, with Secret data redacted.
options:
  options:
    description:
      - Rendering options (C(secret_store), C(cert_resolver), C(entrypoint), C(storage_class),
        C(onepassword_vault), C(startup_timeout_seconds)). The module renders every object of the instances
        itself, namespaces included, exactly as the C(hansenexus.platform.convex_manifests) filter does.
    type: dict
    default: {}
  resources:
    description:
      - The objects to converge, when they are not to be rendered from O(instances) and O(options).
      - V([]) runs only the checks (image guard, and the credential plan with O(store=kubernetes)).
    type: list
    elements: dict
  selector:
    description: Label selector of the objects this collection manages (image guard and removed apps).
    type: str
    required: true
  allow_image_change:
    description: Let the converge change a running backend's image (normally only the upgrade playbook does).
    type: bool
    default: false
  store:
    description: V(kubernetes) keeps the credentials in plain Secrets; V(external) leaves them to another store.
    type: str
    choices: [kubernetes, external]
    default: kubernetes
  instance_secrets:
    description: Instance secrets the inventory fixes, by secret name (O(store=kubernetes)).
    type: dict
    default: {}
  generate:
    description:
      - Create credentials that the store does not hold yet. V(false) during a rebuild - an app environment
        without stored credentials then fails the run before anything is written.
    type: bool
    default: true
  dashboard_username:
    description: User name of the dashboards' BasicAuth login.
    type: str
    default: admin
  workers:
    description: Concurrent API requests.
    type: int
    default: 8
  prune_kinds:
    description: Kinds (C(apiVersion), C(kind)) whose managed objects that no instance names are reported.
    type: list
    elements: dict
    default: []
  prune_selector:
    description: Narrows O(selector) for the removed objects, e.g. to the apps named for pruning.
    type: str
  prune:
    description: Delete the reported objects (never volumes, claims or Secrets - leave them out of O(prune_kinds)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Converge every app environment
  hansenexus.platform.convex_converge:
    kubeconfig: ~/.kube/hansenexus.yaml
    instances: "{{ convex_apps_instances }}"
    options: {secret_store: kubernetes, cert_resolver: letsencrypt}
    selector: app.kubernetes.io/managed-by=hansenexus.platform,app.kubernetes.io/name=convex
    prune_kinds:
      - {apiVersion: apps/v1, kind: StatefulSet}
"""

RETURN = r"""
resources:
  description: One entry per object, in the order written (namespaces first).
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: StatefulSet, apiVersion: apps/v1, name: convex-planex, namespace: convex, action: none, changed: false}
summary:
  description: How many objects were created, updated and left alone.
  returned: success
  type: dict
  sample: {create: 0, update: 1, none: 60}
credentials:
  description: One entry per instance with O(store=kubernetes) - what was created or completed, never a value.
  returned: success
  type: list
  elements: dict
  sample:
    - {app: planex, environment: production, secret: convex-planex-production, action: none, changes: []}
orphans:
  description: Managed objects of O(prune_kinds) that no instance names any more.
  returned: success
  type: list
  elements: dict
pruned:
  description: How many orphans were deleted (or would be, in check mode).
  returned: success
  type: int
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import converge, runner


def main():
    runner.main(converge.ARGUMENTS, converge.run)


if __name__ == "__main__":
    main()

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
  instances:
    description: Expanded instances, as the C(hansenexus.platform.convex_instances) filter returns them.
    type: list
    elements: dict
    required: true
  resources:
    description: Every object of the instances, namespaces included (C(hansenexus.platform.convex_manifests)).
    type: list
    elements: dict
    required: true
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
    resources: "{{ convex_apps_instances | hansenexus.platform.convex_manifests(options) }}"
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hansenexus.platform.plugins.module_utils import credentials
from ansible_collections.hansenexus.platform.plugins.module_utils.apply import summarize
from ansible_collections.hansenexus.platform.plugins.module_utils.converge import Converge
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError
from ansible_collections.hansenexus.platform.plugins.module_utils.kube import argument_spec, connect


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            instances=dict(type="list", elements="dict", required=True),
            resources=dict(type="list", elements="dict", required=True),
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
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["store"] == "kubernetes" and not credentials.HAS_BCRYPT:
        module.fail_json(msg=missing_required_lib("bcrypt"))
    secrets = None
    if params["store"] == "kubernetes":
        secrets = {"username": params["dashboard_username"], "instance_secrets": params["instance_secrets"],
                   "generate": params["generate"]}
    try:
        out = Converge(connect(module, params["workers"]), module.check_mode, params["workers"]).run(
            params["instances"], params["resources"], params["selector"], params["allow_image_change"], secrets,
            params["prune_kinds"], params["prune"], params["prune_selector"])
    except PlatformError as exc:
        module.fail_json(msg="Converging the Convex apps failed (nothing after the failing step was changed): %s"
                         % exc)
    summary, diffs = summarize(out["resources"])
    changed = bool(diffs) or out["pruned"] > 0 or any(c["changed"] for c in out["credentials"])
    module.exit_json(changed=changed, summary=summary, diff=diffs if module._diff else None, **out)


if __name__ == "__main__":
    main()

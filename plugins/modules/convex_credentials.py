#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_credentials
short_description: Keep each Convex app environment's credentials in a Kubernetes Secret
version_added: 0.1.0
description:
  - For every instance given, makes sure the Secret C(convex-{app}-{env}) in the instance's namespace
    holds an instance secret, a valid admin key, and a dashboard login (user, password and its bcrypt
    hash for Traefik BasicAuth).
  - An instance secret is created once and never replaced. A stored admin key that is no longer valid
    for the instance name and secret is re-issued; a valid one is kept (keys are randomized, so they are
    validated, never compared).
  - This is the plain secret store, for clusters without the 1Password operator (tests, kind, small
    setups). With 1Password, the apps role writes the item instead and the operator makes the Secret.
  - No secret value is ever returned.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
requirements:
  - cryptography >= 42.0.0
  - bcrypt >= 4.0.0
attributes:
  check_mode:
    support: full
    description: Reports which Secrets would be created or completed; writes nothing.
  diff_mode:
    support: none
    description: Secret values are never shown, so there is no diff.
options:
  instances:
    description:
      - Expanded instances, as the C(hansenexus.platform.convex_instances) filter returns them.
      - Only C(app), C(env), C(namespace), C(secret_name) and C(instance_name) are read.
    type: list
    elements: dict
    required: true
  instance_secrets:
    description:
      - Instance secrets the inventory fixes, by secret name, for instances migrated from elsewhere.
      - A stored secret that differs makes the module fail instead of replacing it.
    type: dict
    default: {}
  dashboard_username:
    description: User name of the dashboard's BasicAuth login.
    type: str
    default: admin
  store:
    description:
      - V(kubernetes) reads and writes the Secrets itself.
      - V(external) only plans - it reads O(stored) and returns the complete values, base64-encoded JSON in
        RV(credentials[].values_b64), for the caller to write to its store (the 1Password and hub paths).
        Register such a task with C(no_log).
    type: str
    choices: [kubernetes, external]
    default: kubernetes
  stored:
    description:
      - With O(store=external), what the store holds, by secret name, each a dict with the keys
        C(instance_secret), C(admin_key), C(dashboard_username), C(dashboard_password), C(dashboard_users).
    type: dict
    default: {}
  generate:
    description:
      - Create an instance secret the store does not hold. V(false) during a rebuild - an app environment
        without a stored instance secret then fails before anything is written.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Make sure every app environment has its credentials
  hansenexus.platform.convex_credentials:
    kubeconfig: ~/.kube/hn-k3s.yaml
    instances: "{{ convex_apps_instances }}"
"""

RETURN = r"""
credentials:
  description: One entry per instance; no secret values.
  returned: always
  type: list
  elements: dict
  sample:
    - app: planex
      environment: production
      namespace: convex
      secret: convex-planex-production
      action: create
      changed: true
      changes: [instance secret created, admin key issued]
  contains:
    values_b64:
      description:
        - With O(store=external) only, the complete values to store, as base64-encoded JSON
          (decode with C(b64decode | from_json)). Secret.
        - Encoded because Ansible masks returned substrings equal to values of no_log options, which would
          corrupt kept values.
      returned: when store is external
      type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hansenexus.platform.plugins.module_utils import credentials
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError
from ansible_collections.hansenexus.platform.plugins.module_utils.kube import argument_spec, connect


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            instances=dict(type="list", elements="dict", required=True),
            instance_secrets=dict(type="dict", default={}, no_log=True),
            dashboard_username=dict(type="str", default="admin"),
            store=dict(type="str", choices=["kubernetes", "external"], default="kubernetes"),
            stored=dict(type="dict", default={}, no_log=True),
            generate=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if not credentials.HAS_BCRYPT:
        module.fail_json(msg=missing_required_lib("bcrypt"))
    params = module.params
    results = []
    current = None
    try:
        if params["store"] == "kubernetes":
            results = credentials.ensure_in_kubernetes(
                connect(module), params["instances"], params["dashboard_username"], params["instance_secrets"],
                module.check_mode, params["generate"])
        else:
            for inst in params["instances"]:
                current = inst
                results.append(credentials.plan_for_store(
                    inst, params["stored"].get(inst["secret_name"]), params["dashboard_username"],
                    params["instance_secrets"].get(inst["secret_name"]), params["generate"]))
    except (PlatformError, KeyError) as exc:
        where = "app '%s' environment '%s'" % (current.get("app"), current.get("env")) if current else "planning"
        module.fail_json(msg="Ensuring Convex credentials failed at %s: %s" % (where, exc), credentials=results)
    module.exit_json(changed=any(r["changed"] for r in results), credentials=results)


if __name__ == "__main__":
    main()

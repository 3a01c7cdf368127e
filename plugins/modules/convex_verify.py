#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_verify
short_description: Verify that every Convex app environment runs on its own data with a valid admin key
version_added: 0.2.0
description:
  - Reads only. For each instance - its PersistentVolume points at the instance's fixed directory on the
    data volume and is reserved for the instance's claim; the claim is Bound to that volume; the backend
    pod is Ready (environments scaled to zero are not waited for); the admin key in the Secret
    C(convex-{app}-{env}) is valid for the instance secret stored next to it.
  - Waits up to O(timeout) seconds for backends that are still starting. Fails naming each app
    environment and what is wrong.
  - The end of playbooks/rebuild.yml; useful any day as a health check of the estate.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
  - hansenexus.platform.kube.controller
  - hansenexus.platform.kube.instances
requirements:
  - cryptography >= 42.0.0
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
options:
  timeout:
    description: Seconds to wait for backend pods to become Ready.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Verify every app environment
  hansenexus.platform.convex_verify:
    kubeconfig: ~/.kube/hansenexus.yaml
    instances: "{{ convex_apps_instances }}"
    timeout: 900
"""

RETURN = r"""
instances:
  description: One report per instance; no secret value.
  returned: always
  type: list
  elements: dict
  sample:
    - app: planex
      environment: production
      namespace: convex
      data_path: /mnt/data/convex/convex/planex-production
      volume: convex-planex-data
      claim: data-convex-planex
      storage_ok: true
      admin_key_valid: true
      ready: true
      problems: []
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import verify, runner


def main():
    runner.main(verify.ARGUMENTS, verify.run)


if __name__ == "__main__":
    main()

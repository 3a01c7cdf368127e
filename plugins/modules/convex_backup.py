#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_backup
short_description: Export a self-hosted Convex deployment with the Convex CLI, keep a retention, restore an export
version_added: "0.1.0"
description:
  - Runs the official Convex CLI (npm package C(convex)) against one self-hosted backend, selected with
    E(CONVEX_SELF_HOSTED_URL) and E(CONVEX_SELF_HOSTED_ADMIN_KEY). Every other E(CONVEX_*) variable of the
    controller is removed from the CLI's environment, and E(CI=1) keeps the CLI from sending crash reports.
  - O(state=exported) takes a snapshot export (C(convex export)) into O(dest) as C(<UTC time>.zip),
    e.g. C(20261121T231500Z.zip), written under a temporary name and renamed when complete, mode C(0600) in a
    C(0700) directory. Afterwards only the O(keep) newest exports are kept.
  - O(state=restored) imports one export with C(convex import --replace-all -y), which replaces B(all) data
    of the deployment - tables missing from the export are deleted.
  - Before anything, the module checks that the CLI command exists on the controller, that the admin key
    is stored (with O(admin_key_secret)) and that C(GET <url>/version) answers 200. If not, it returns C(skipped=true) with the reason in C(msg); the
    playbook decides whether that is fatal.
  - The admin key never appears in the output; the CLI's output is scrubbed of it.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
  - hansenexus.platform.kube.controller
requirements:
  - Node.js >= 20 and the Convex CLI on the controller (C(npx) fetches it by default)
options:
  name:
    description:
      - Name of the instance, used in messages.
    type: str
    required: true
  url:
    description:
      - Public URL of the backend (its E(CONVEX_CLOUD_ORIGIN)), as the CLI's E(CONVEX_SELF_HOSTED_URL).
    type: str
    required: true
  admin_key:
    description:
      - Admin key of the backend.
      - Exactly one of O(admin_key) and O(admin_key_secret) is required.
    type: str
  admin_key_secret:
    description:
      - The Kubernetes Secret that holds the admin key, read with O(kubeconfig) and O(context) - for
        backends on the cluster, whose key then never passes through Ansible variables.
      - A missing Secret or a Secret without the key makes the module skip ("no admin key stored").
    type: dict
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      name:
        description: Name of the Secret.
        type: str
        required: true
      key:
        description: Key of the admin key in the Secret's data.
        type: str
        default: admin-key
  state:
    description:
      - V(exported) takes a new export; V(restored) imports O(path), replacing all data.
    type: str
    choices: [exported, restored]
    default: exported
  dest:
    description:
      - Directory of the exports, one per instance. Created with mode C(0700) when missing.
      - Required for O(state=exported), and for O(state=restored) with O(path=latest).
    type: path
  keep:
    description:
      - Number of exports kept after a successful export, newest first; older ones are deleted.
        V(0) keeps all. Only files named like C(20261121T231500Z.zip) count or are ever deleted.
    type: int
    default: 7
  path:
    description:
      - For O(state=restored), the export to import - V(latest) for the newest export in O(dest), or an
        absolute file path.
    type: str
  cli:
    description:
      - Command that runs the Convex CLI, as a list; the module appends C(export ...) or C(import ...).
      - Its first element must be executable on the controller, else the module skips.
      - The default pins the CLI version the collection is tested with.
    type: list
    elements: str
    default: [npx, --yes, convex@1.48.0]
  timeout:
    description:
      - Seconds to wait for C(GET <url>/version) before skipping.
    type: int
    default: 10
  cli_timeout:
    description:
      - Seconds the export or import may take. Then the CLI and what it started are stopped, a partial export
        is removed, and the task fails naming the app. V(0) waits without limit.
    type: int
    default: 3600
notes:
  - Runs on the host the task runs on; delegate it to the controller, which needs Node.js.
  - The CLI itself has no overall time limit; a very large deployment takes as long as its export takes.
attributes:
  check_mode:
    support: full
    description: Runs the read-only probes, reports C(changed=true) and what would be written or removed,
      and neither runs the CLI nor touches files.
  diff_mode:
    support: none
    description: Exports are binary files; there is no diff.
"""

EXAMPLES = r"""
- name: Export planex-prod, keep a week of exports
  hansenexus.platform.convex_backup:
    name: planex-prod
    url: https://convex-planex.hansenexus.de
    admin_key: "{{ planex_admin_key }}"
    dest: /backups/planex-prod
    keep: 7
  delegate_to: localhost
  register: planex_backup

- name: Fail when the export could not run
  ansible.builtin.assert:
    that: planex_backup is not skipped
    fail_msg: "{{ planex_backup.msg | default('') }}"

- name: Export an app on the cluster, its admin key read from its Kubernetes Secret
  hansenexus.platform.convex_backup:
    name: planex-prod
    url: https://convex-planex.hansenexus.de
    admin_key_secret:
      namespace: convex
      name: convex-planex-prod
    dest: /backups/planex-prod
  delegate_to: localhost

- name: Restore the newest export
  hansenexus.platform.convex_backup:
    name: planex-prod
    url: https://convex-planex.hansenexus.de
    admin_key: "{{ planex_admin_key }}"
    state: restored
    dest: /backups/planex-prod
    path: latest
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The export written (or that would be written in check mode), or the export imported.
  returned: unless skipped
  type: str
  sample: /backups/planex-prod/20261121T231500Z.zip
size:
  description: Size of that file in bytes.
  returned: when O(state=exported) and not in check mode, and when O(state=restored)
  type: int
  sample: 52311
sha256:
  description: SHA-256 of that file.
  returned: when O(state=exported) and not in check mode, and when O(state=restored)
  type: str
  sample: 6f1ed002ab5595859014ebf0951522d9fbd5b9e7a0b1f6a4c7d3e2a1b0c9d8e7
removed:
  description: Exports deleted by the retention (in check mode, that would be deleted), oldest first.
  returned: when O(state=exported)
  type: list
  elements: str
  sample: [/backups/planex-prod/20261114T231500Z.zip]
documents:
  description: Number of documents the import wrote, as the CLI reports it; null if it reported none.
  returned: when O(state=restored) and not in check mode
  type: int
  sample: 1234
output:
  description: The CLI's output, without colour codes and without the admin key.
  returned: when the CLI ran
  type: str
  sample: "Created snapshot export at timestamp 1795303408397827821"
skipped:
  description: True when the CLI is missing on the controller, no admin key is stored, or the backend did not
    answer; see C(msg).
  returned: when skipped
  type: bool
  sample: true
msg:
  description: What was done, or why it was skipped.
  returned: always
  type: str
  sample: "planex-prod: exported https://convex-planex.hansenexus.de to /backups/planex-prod/20261121T231500Z.zip"
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import backup, runner


def main():
    runner.main(backup.ARGUMENTS, backup.run)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_admin_key
short_description: Generate instance secrets, issue and validate admin keys of a self-hosted Convex backend
version_added: "0.1.0"
description:
  - Computes the credentials of a self-hosted Convex backend locally, byte-compatible with the
    backend's own key broker (admin key format version 1, as issued by the image's
    C(generate_admin_key.sh)).
  - O(action=generate_secret) returns a fresh random instance secret (64 lowercase hex characters).
  - O(action=issue) issues an admin key for member id 0, not read-only, that never expires; it stays
    valid until the instance name or the instance secret changes.
  - O(action=validate) tells whether the backend with O(instance_name) and O(instance_secret) would
    accept O(admin_key). Keys are randomized, so two keys from one secret differ; compare by
    validating, never by string equality.
  - Nothing on any system is changed, so the module always reports C(changed=false) and behaves the
    same in check mode.
  - The returned secret and key are B(not) masked by Ansible. Set C(no_log) to V(true) on the task
    and store them in a secret store.
author:
  - Hansenexus platform team (@hansenexus)
requirements:
  - cryptography >= 42.0 (AES-GCM-SIV, needs OpenSSL >= 3.2) for O(action=issue) and O(action=validate)
options:
  action:
    description:
      - What to compute.
    type: str
    choices: [generate_secret, issue, validate]
    default: issue
  instance_name:
    description:
      - Name of the Convex instance (the backend's E(INSTANCE_NAME)).
      - Non-empty printable ASCII without whitespace, V(|) or V(:). For O(action=validate), a key whose
        name carries a type prefix such as V(prod:) is compared without that prefix, as the backend does.
    type: str
    default: convex-self-hosted
  instance_secret:
    description:
      - The backend's E(INSTANCE_SECRET) - 32 bytes as 64 hex characters.
      - Accepted exactly as the backend accepts it (either case, optional V(0x) prefix). A trailing
        newline, which makes the backend refuse to start, is reported as such.
      - Required for O(action=issue) and O(action=validate).
    type: str
  admin_key:
    description:
      - The admin key to check, as C(<instance name>|<hex>).
      - Required for O(action=validate).
    type: str
notes:
  - Keys in the legacy format (XSalsa20-Poly1305, no longer issued by the backend) are reported as
    not valid, although the backend still accepts them.
  - Validation mirrors the backend's checks (decryption with the secret, instance name, issue time,
    identity). Whether a given running backend uses that secret is best confirmed against its
    C(/api/check_admin_key) endpoint.
attributes:
  check_mode:
    support: full
    description: Pure computation; check mode returns the same results.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
"""

EXAMPLES = r"""
- name: Generate an instance secret
  hansenexus.platform.convex_admin_key:
    action: generate_secret
  register: convex_secret
  no_log: true

- name: Issue an admin key for the instance
  hansenexus.platform.convex_admin_key:
    instance_name: convex-planex-prod
    instance_secret: "{{ convex_secret.instance_secret }}"
  register: convex_key
  no_log: true

- name: Check that the stored admin key still matches the instance secret
  hansenexus.platform.convex_admin_key:
    action: validate
    instance_name: convex-planex-prod
    instance_secret: "{{ stored_instance_secret }}"
    admin_key: "{{ stored_admin_key }}"
  register: convex_key_check
  no_log: true

- name: Fail when the stored admin key is not valid
  ansible.builtin.assert:
    that: convex_key_check.valid
    fail_msg: "Stored admin key rejected: {{ convex_key_check.reason }}"
"""

RETURN = r"""
instance_secret:
  description:
    - A fresh instance secret, 64 lowercase hex characters. Not masked; use C(no_log) on the task.
  returned: when O(action=generate_secret)
  type: str
  sample: 4f3c...e2a1
admin_key:
  description:
    - The new admin key, C(<instance name>|<74 hex characters>). Not masked; use C(no_log) on the task.
  returned: when O(action=issue)
  type: str
  sample: convex-self-hosted|01c2...9f
issued_s:
  description:
    - Issue time of the key in seconds since the epoch.
    - For O(action=validate), null when the key could not be decrypted.
  returned: when O(action=issue) or O(action=validate)
  type: int
  sample: 1767225600
valid:
  description: Whether the backend would accept O(admin_key).
  returned: when O(action=validate)
  type: bool
  sample: true
reason:
  description: Why the key is not valid, or V(valid).
  returned: when O(action=validate)
  type: str
  sample: the key is for instance 'convex-a', not 'convex-b'
key_instance_name:
  description: Instance name the key carries (type prefix removed), null if it carries none.
  returned: when O(action=validate)
  type: str
  sample: convex-self-hosted
member_id:
  description: Member id inside the key; null for a system key or an undecryptable key.
  returned: when O(action=validate)
  type: int
  sample: 0
system:
  description: Whether the key is a system key; null for an undecryptable key.
  returned: when O(action=validate)
  type: bool
  sample: false
read_only:
  description: Whether the key is read-only; null for an undecryptable key.
  returned: when O(action=validate)
  type: bool
  sample: false
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hansenexus.platform.plugins.module_utils.convex_keys import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    CRYPTOGRAPHY_REQUIREMENT,
    DEFAULT_INSTANCE_NAME,
    HAS_CRYPTOGRAPHY,
    check_admin_key,
    generate_instance_secret,
    issue_admin_key,
)
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError


def run(params):
    """Return the result dict for ``params``; raises PlatformError."""
    action = params["action"]
    if action == "generate_secret":
        return dict(changed=False, instance_secret=generate_instance_secret())
    if action == "issue":
        issued_s = int(time.time())
        key = issue_admin_key(params["instance_name"], params["instance_secret"], issued_s=issued_s)
        return dict(changed=False, admin_key=key, issued_s=issued_s)
    result = check_admin_key(params["admin_key"], params["instance_name"], params["instance_secret"])
    return dict(changed=False, **result.as_dict())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", default="issue", choices=["generate_secret", "issue", "validate"]),
            instance_name=dict(type="str", default=DEFAULT_INSTANCE_NAME),
            instance_secret=dict(type="str", no_log=True),
            admin_key=dict(type="str", no_log=True),
        ),
        required_if=[
            ("action", "issue", ["instance_secret"]),
            ("action", "validate", ["instance_secret", "admin_key"]),
        ],
        supports_check_mode=True,
    )
    if module.params["action"] != "generate_secret" and not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    try:
        result = run(module.params)
    except PlatformError as exc:
        module.fail_json(msg="convex_admin_key (action=%s): %s" % (module.params["action"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

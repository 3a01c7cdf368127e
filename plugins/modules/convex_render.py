#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_render
short_description: Write every Kubernetes manifest of the Convex app environments into a directory
version_added: 0.2.0
description:
  - One file per app environment, C({namespace}--{name}.yaml), plus C(00-namespaces.yaml), holding the objects
    exactly as M(hansenexus.platform.convex_converge) applies them (applied-hash annotation included), so
    C(kubectl diff --server-side -f DIR) against a converged cluster is empty. Contacts no cluster.
  - Files are replaced atomically (mode 0644) and only when their content changes. C(.yaml) files of app
    environments that are no longer in the inventory are reported in RV(stale), never removed.
  - Plain Secrets are not rendered; the credentials never leave their store.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube.controller
  - hansenexus.platform.kube.instances
requirements:
  - PyYAML
attributes:
  check_mode:
    support: full
    description: Reports which files would be written; writes nothing.
  diff_mode:
    support: full
    description: The before and after text of each file written.
options:
  options:
    description: Rendering options, as for M(hansenexus.platform.convex_converge).
    type: dict
    default: {}
  dest:
    description: Absolute directory path; created when missing.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Render the estate
  hansenexus.platform.convex_render:
    instances: "{{ convex_apps_instances }}"
    options: {secret_store: kubernetes}
    dest: /tmp/hansenexus-render
"""

RETURN = r"""
files:
  description: One entry per file, namespaces first.
  returned: success
  type: list
  elements: dict
  sample:
    - {path: /tmp/hansenexus-render/convex--convex-planex.yaml, action: none, changed: false}
stale:
  description: C(.yaml) files in O(dest) that this inventory does not render (left alone).
  returned: success
  type: list
  elements: str
  sample: [convex--convex-oldapp.yaml]
msg:
  description: How many files were written.
  returned: success
  type: str
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import render, runner


def main():
    runner.main(render.ARGUMENTS, render.run)


if __name__ == "__main__":
    main()

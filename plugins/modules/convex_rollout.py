#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: convex_rollout
short_description: Roll one OnDelete Convex StatefulSet onto its new template, safely
version_added: 0.1.0
description:
  - Applies the desired StatefulSet (for example with a new backend image) and its companions (the dashboard
    Deployment, so backend and dashboard move in lockstep).
  - If the StatefulSet's pod is not on C(status.updateRevision), deletes it and waits until the recreated pod
    carries that revision's C(controller-revision-hash), is Ready and, when O(health_url) is given, answers it.
    C(status.currentRevision) and replica counts are never trusted under OnDelete.
  - A pod already on the update revision and Ready is left alone. A StatefulSet scaled to 0 gets its template
    updated and no pod is touched.
  - Fails fast with the reason when the new pod cannot start (image pull error, crash loop, bad config), and
    with a timeout otherwise.
author:
  - Hansenexus platform team (@hansenexus)
extends_documentation_fragment:
  - hansenexus.platform.kube
  - hansenexus.platform.kube.controller
attributes:
  check_mode:
    support: full
    description: Reports whether the template would change and whether the pod would be restarted; touches nothing.
  diff_mode:
    support: full
    description: The diff of the StatefulSet and companion templates.
options:
  statefulset:
    description: The complete desired StatefulSet object.
    type: dict
    required: true
  companions:
    description: Objects applied together with the StatefulSet, such as the dashboard Deployment.
    type: list
    elements: dict
    default: []
  container:
    description: Name of the container whose image is reported.
    type: str
    default: backend
  timeout:
    description: Seconds to wait for each step (controller, pod Ready, health).
    type: int
    default: 600
  poll_interval:
    description: Seconds between two looks at the pod.
    type: float
    default: 1.0
  health_url:
    description: URL that must answer 2xx after the pod is Ready, such as C(https://convex-planex.example/version).
    type: str
  validate_certs:
    description: Verify the TLS certificate of O(health_url).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Roll planex onto the new release
  hansenexus.platform.convex_rollout:
    kubeconfig: ~/.kube/hn-k3s.yaml
    statefulset: "{{ objects | selectattr('kind', 'equalto', 'StatefulSet') | first }}"
    companions: "{{ objects | selectattr('kind', 'equalto', 'Deployment') }}"
    health_url: https://convex-planex.hansenexus.dev/version
"""

RETURN = r"""
rollout:
  description: What happened to the StatefulSet and its pod.
  returned: always
  type: dict
  sample:
    namespace: convex
    statefulset: convex-planex
    pod: convex-planex-0
    old_image: ghcr.io/get-convex/convex-backend:aaa
    new_image: ghcr.io/get-convex/convex-backend:bbb
    old_revision: convex-planex-6d9f7c8b5
    new_revision: convex-planex-7f6c9d4b8
    template_changed: true
    restarted: true
    action: restarted pod
    seconds: 12.4
    pod_start_seconds: 10.9
"""

from ansible_collections.hansenexus.platform.plugins.module_utils import rollout, runner


def main():
    runner.main(rollout.ARGUMENTS, rollout.run)


if __name__ == "__main__":
    main()

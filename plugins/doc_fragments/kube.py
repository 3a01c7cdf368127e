# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Cluster access shared by the modules that talk to Kubernetes."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description: Path of the kubeconfig file; C($KUBECONFIG) or C(~/.kube/config) when omitted.
    type: path
  context:
    description: Context of the kubeconfig to use; the current context when omitted.
    type: str
requirements:
  - urllib3 and PyYAML (the collection talks to the API server itself)
  - kubernetes >= 29.0.0 (Python client), only for kubeconfigs with exec or auth-provider credentials
"""

    CONTROLLER = r"""
attributes:
  action:
    support: full
    description:
      - An action plugin of the same name runs the module's own code in Ansible's worker process when the task's
        connection is local, without C(become), an C(environment) keyword or C(async) - the usual case, as these
        modules do their work from the controller. It saves the module payload and a new interpreter per task.
        Anywhere else the module runs on the target as usual.
"""

    INSTANCES = r"""
options:
  instances:
    description: Expanded instances (app environments), as the C(hansenexus.platform.convex_instances) filter returns them.
    type: list
    elements: dict
    required: true
"""

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One module, two ways to run it.

Each module that runs against an API from the controller is declared once in
module_utils: its ``ARGUMENTS`` (what AnsibleModule takes besides
``supports_check_mode``) and a ``run(call)`` that returns the module's result or
raises PlatformError (its ``result`` adds fields to the failed result). ``call`` is
a :class:`Call`.

- On a managed host the module file's ``main()`` hands both to :func:`main`.
- On the controller - the usual case, the apps layer runs against the API from
  localhost - the action plugin of the same name validates the same arguments and
  calls the same ``run`` in Ansible's worker process: no module payload, no new
  interpreter, no second import of the logic (plugins/plugin_utils/controller.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError


def missing_library(requirement, error=None):
    """The PlatformError for a missing Python library, worded as Ansible words it."""
    from ansible.module_utils.basic import missing_required_lib

    message = missing_required_lib(requirement)
    return PlatformError(message + (" (%s)" % error if error else ""))


class Call:
    """One run of a module: validated ``params``, ``check_mode``, ``diff``, and ``no_log_values`` - a set
    the run adds secrets to that it learns on the way (a key read from a Secret), kept out of the result."""

    def __init__(self, params, check_mode=False, diff=False, no_log_values=None):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.no_log_values = set() if no_log_values is None else no_log_values


def main(arguments, run):
    """A module file's main(): validate with AnsibleModule, run, exit or fail."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(supports_check_mode=True, **arguments)
    try:
        result = run(Call(module.params, module.check_mode, module._diff, module.no_log_values))
    except PlatformError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    module.exit_json(**result)

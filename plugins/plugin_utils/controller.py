# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a collection module's logic in Ansible's worker process when its target is the controller.

The apps layer talks to the Kubernetes API from localhost. Run as a module, every task
pays for building and unpacking the module payload, a new Python interpreter, and a
second import of ansible.module_utils and of the logic - about a second a task, most
of a converge's fixed cost. When the task's connection is local - without become, an
``environment`` keyword or async - the action plugin validates the module's own argument
spec and calls the module's own run function here (module_utils/runner.py); anywhere
else it runs the module as usual.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError
from ansible_collections.hansenexus.platform.plugins.module_utils.runner import Call


def plain(value):
    """Ansible hands plugins lazy/tagged containers and strings; the logic wants plain ones."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    for kind in (bool, str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


class ControllerAction(ActionBase):
    """Base of the action plugins named after modules declared for module_utils/runner.py.

    Subclasses set ``ARGUMENTS`` and ``RUN`` to the module's declaration.
    """

    TRANSFERS_FILES = False
    ARGUMENTS = None
    RUN = None

    def on_controller(self):
        """True when the module would run here, as this user, in this environment, and not in the background."""
        return (getattr(self._connection, "transport", None) == "local" and not self._play_context.become
                and not any(self._task.environment or []) and not self._task.async_val)

    def run(self, tmp=None, task_vars=None):
        result = super(ControllerAction, self).run(tmp, task_vars)
        if not self.on_controller():
            result.update(self._execute_module(module_args=self._task.args, task_vars=task_vars))
            return result
        validation, params = self.validate_argument_spec(**self.ARGUMENTS)
        call = Call(plain(params), bool(self._task.check_mode), bool(self._task.diff),
                    set(validation._no_log_values))
        try:
            result.update(type(self).RUN(call))
        except PlatformError as exc:
            result.update(exc.result, failed=True, msg=str(exc))
        return remove_values(result, call.no_log_values) if call.no_log_values else result

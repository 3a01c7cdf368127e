# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""convex_render on the controller: the module's own logic, in the worker process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hansenexus.platform.plugins.module_utils import render
from ansible_collections.hansenexus.platform.plugins.plugin_utils.controller import ControllerAction


class ActionModule(ControllerAction):
    ARGUMENTS = render.ARGUMENTS
    RUN = staticmethod(render.run)

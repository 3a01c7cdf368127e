# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the collection's logic.

A module's run function (see runner.py) raises PlatformError; the module or action plugin turns it into
one failed result: ``msg`` is the message, ``result`` holds extra fields of that result (never a secret).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class PlatformError(Exception):
    """Base class of every error the collection's logic raises on purpose."""

    def __init__(self, message="", **result):
        super(PlatformError, self).__init__(message)
        self.result = result


class ValidationError(PlatformError):
    """Input (inventory, module options) is invalid; nothing was changed."""


class KeyFormatError(PlatformError):
    """An instance secret or admin key is malformed."""


class KubernetesError(PlatformError):
    """The Kubernetes API refused or failed a request."""


class RolloutError(PlatformError):
    """A rollout did not reach its goal (timeout, crash loop, image pull error...)."""

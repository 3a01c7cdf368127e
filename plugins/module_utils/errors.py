# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the collection's logic.

Modules catch PlatformError and turn it into a single ``fail_json(msg=...)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class PlatformError(Exception):
    """Base class of every error the collection's logic raises on purpose."""


class ValidationError(PlatformError):
    """Input (inventory, module options) is invalid; nothing was changed."""


class KeyFormatError(PlatformError):
    """An instance secret or admin key is malformed."""


class KubernetesError(PlatformError):
    """The Kubernetes API refused or failed a request."""


class RolloutError(PlatformError):
    """A rollout did not reach its goal (timeout, crash loop, image pull error...)."""

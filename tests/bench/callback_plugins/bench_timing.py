# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: one JSON line per task start and task result, with wall-clock times.

Enabled by tests/bench/bench.py through ANSIBLE_CALLBACK_PLUGINS / ANSIBLE_CALLBACKS_ENABLED; writes to
the file named by HN_BENCH_EVENTS. It never records module arguments or results, except the non-secret
``rollout`` summary of hansenexus.platform.convex_rollout (times, action) and convex_converge's ``summary``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: Write task timings as JSON lines (benchmarks only)
description:
  - Writes one JSON line per task start and per task result to the file named by the environment variable
    C(HN_BENCH_EVENTS). Used by tests/bench/bench.py only.
requirements:
  - enable in configuration
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

KEPT = {"convex_rollout": "rollout", "convex_converge": "summary", "kube_apply": "summary"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        path = os.environ.get("HN_BENCH_EVENTS")
        self._out = open(path, "a", encoding="utf-8") if path else None  # pylint: disable=consider-using-with

    def _write(self, **event):
        if self._out is None:
            return
        event["t"] = time.time()
        self._out.write(json.dumps(event, default=str) + "\n")
        self._out.flush()

    def v2_playbook_on_start(self, playbook):
        self._write(event="playbook_start")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(event="task_start", task=task.get_name(), action=task.action)

    def _result(self, status, result):
        event = {"event": "result", "status": status, "task": result._task.get_name(),
                 "action": result._task.action}
        short = result._task.action.split(".")[-1]
        if short in KEPT and isinstance(result._result.get(KEPT[short]), dict):
            kept = dict(result._result[KEPT[short]])
            kept.pop("diff", None)
            event[KEPT[short]] = kept
        self._write(**event)

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_playbook_on_stats(self, stats):
        self._write(event="playbook_end")
        if self._out is not None:
            self._out.close()
            self._out = None

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is every app environment back on its own data? The end of a rebuild (and a health check any day).

For each instance: its PersistentVolume points at the instance's fixed directory on the data volume and
is bound to the instance's claim, the claim is Bound to that volume, the backend pod is Ready (unless the
environment is scaled to zero), and the admin key in the secret store is valid for the instance secret
next to it. Reads only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys, kube, rollout
from ansible_collections.hansenexus.platform.plugins.module_utils.credentials import decode_secret
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError


#: Prefix of a problem that time may solve (a claim still binding, a backend still starting).
PENDING = "still starting: "


def storage_problems(inst, volume, claim):
    """Why the instance's data is not (provably) its own directory on the data volume."""
    if volume is None:
        return ["PersistentVolume %s is missing" % inst["volume_name"]]
    problems = []
    spec = volume.get("spec") or {}
    path = (spec.get("hostPath") or spec.get("local") or {}).get("path")
    if path != inst["data_path"]:
        problems.append("PersistentVolume %s points at %s, not at the app's directory %s"
                        % (inst["volume_name"], path, inst["data_path"]))
    ref = spec.get("claimRef") or {}
    if (ref.get("namespace"), ref.get("name")) != (inst["namespace"], inst["claim_name"]):
        problems.append("PersistentVolume %s is reserved for %s/%s, not for the app's claim %s/%s"
                        % (inst["volume_name"], ref.get("namespace"), ref.get("name"), inst["namespace"],
                           inst["claim_name"]))
    if claim is None:
        problems.append("PersistentVolumeClaim %s/%s is missing" % (inst["namespace"], inst["claim_name"]))
    else:
        phase = (claim.get("status") or {}).get("phase")
        bound_to = (claim.get("spec") or {}).get("volumeName")
        if phase == "Pending" and bound_to in (None, inst["volume_name"]):
            problems.append(PENDING + "PersistentVolumeClaim %s/%s is not bound yet"
                            % (inst["namespace"], inst["claim_name"]))
        elif phase != "Bound" or bound_to != inst["volume_name"]:
            problems.append("PersistentVolumeClaim %s/%s is %s to %s, not Bound to %s"
                            % (inst["namespace"], inst["claim_name"], phase or "unbound", bound_to or "nothing",
                               inst["volume_name"]))
    return problems


def key_problems(inst, secret):
    """Why the stored admin key would not open the backend (never shows a value)."""
    values = decode_secret(secret)
    if not values:
        return ["Secret %s/%s is missing" % (inst["namespace"], inst["secret_name"])]
    if not values.get("instance_secret") or not values.get("admin_key"):
        return ["Secret %s/%s lacks the instance secret or the admin key" % (inst["namespace"], inst["secret_name"])]
    try:
        check = convex_keys.check_admin_key(values["admin_key"], inst["instance_name"], values["instance_secret"])
    except PlatformError as exc:
        return ["the stored admin key cannot be checked: %s" % exc]
    return [] if check.valid else ["the stored admin key is not valid for the stored instance secret: %s"
                                   % check.reason]


def pod_problems(inst, pod):
    """Why the backend is not serving: missing, failing or not Ready."""
    if int(inst.get("replicas", 1)) == 0:
        return []
    if pod is None:
        return [PENDING + "backend pod %s/%s does not exist yet" % (inst["namespace"], inst["pod_name"])]
    problem = rollout.pod_problem(pod)
    if problem:
        return ["backend pod %s/%s: %s" % (inst["namespace"], inst["pod_name"], problem)]
    if not rollout.pod_ready(pod):
        return [PENDING + "backend pod %s/%s is not Ready" % (inst["namespace"], inst["pod_name"])]
    return []


class Verify:
    """Check every instance; wait (up to ``timeout``) for backends that are still starting."""

    def __init__(self, kube, timeout=600, poll=2.0, clock=time.monotonic, sleep=time.sleep):
        self.kube = kube
        self.timeout = timeout
        self.poll = poll
        self.clock = clock
        self.sleep = sleep

    def _read(self, instances):
        volumes = dict((v["metadata"]["name"], v) for v in self.kube.list("v1", "PersistentVolume"))
        found = {"claims": {}, "secrets": {}, "pods": {}}
        for namespace in sorted({i["namespace"] for i in instances}):
            for kind, key in (("PersistentVolumeClaim", "claims"), ("Secret", "secrets"), ("Pod", "pods")):
                for item in self.kube.list("v1", kind, namespace=namespace):
                    found[key][(namespace, item["metadata"]["name"])] = item
        return volumes, found

    def once(self, instances):
        volumes, found = self._read(instances)
        reports = []
        for inst in instances:
            ns = inst["namespace"]
            storage = storage_problems(inst, volumes.get(inst["volume_name"]),
                                       found["claims"].get((ns, inst["claim_name"])))
            keys = key_problems(inst, found["secrets"].get((ns, inst["secret_name"])))
            pods = pod_problems(inst, found["pods"].get((ns, inst["pod_name"])))
            reports.append({
                "app": inst["app"], "environment": inst["env"], "namespace": ns, "data_path": inst["data_path"],
                "volume": inst["volume_name"], "claim": inst["claim_name"],
                "storage_ok": not storage, "admin_key_valid": not keys,
                "ready": not pods if int(inst.get("replicas", 1)) else None,
                "problems": storage + keys + pods,
                "final": any(not p.startswith(PENDING) for p in storage + keys + pods),
            })
        return reports

    def run(self, instances):
        """Reports per instance. Claims still binding and backends still starting are waited for (up to the
        timeout) unless some instance already has a problem that time does not solve."""
        deadline = self.clock() + self.timeout
        while True:
            reports = self.once(instances)
            settled = all(not r["problems"] for r in reports) or any(r["final"] for r in reports)
            if settled or self.clock() >= deadline:
                return reports
            self.sleep(self.poll)


#: The convex_verify module's arguments (see runner.py).
ARGUMENTS = dict(argument_spec=kube.argument_spec(
    instances=dict(type="list", elements="dict", required=True),
    timeout=dict(type="int", default=600),
))


def run(call):
    """The convex_verify module: every instance on its own volume, Ready, with a valid stored key."""
    try:
        with kube.connect(call.params) as client:
            reports = Verify(client, call.params["timeout"]).run(call.params["instances"])
    except PlatformError as exc:
        raise PlatformError("Verifying the Convex apps failed: %s" % exc)
    bad = ["app '%s' environment '%s': %s" % (r["app"], r["environment"], "; ".join(r["problems"]))
           for r in reports if r["problems"]]
    if bad:
        raise PlatformError("%d of %d app environments are not back on their own data: %s"
                            % (len(bad), len(reports), " | ".join(bad)), instances=reports)
    return dict(changed=False, instances=reports)

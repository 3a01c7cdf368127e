# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One OnDelete rollout: template first, then the pod, then proof that it is healthy.

Under ``updateStrategy: OnDelete`` the StatefulSet controller never replaces a
pod by itself, and ``status.currentRevision`` is not maintained the way a
RollingUpdate's is. The only trustworthy signal is each pod's
``controller-revision-hash`` label compared with ``status.updateRevision``
(read after ``status.observedGeneration`` caught up with the spec).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.module_utils.urls import open_url

from ansible_collections.hansenexus.platform.plugins.module_utils import kube
from ansible_collections.hansenexus.platform.plugins.module_utils.apply import Batch
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, RolloutError

REVISION_LABEL = "controller-revision-hash"

#: Container states that will not fix themselves while we wait.
FATAL_WAITING = {
    "ErrImagePull": "image pull error",
    "ImagePullBackOff": "image pull error",
    "InvalidImageName": "invalid image name",
    "CrashLoopBackOff": "crash loop",
    "CreateContainerConfigError": "container configuration error (missing Secret key?)",
    "CreateContainerError": "container could not be created",
}


def pod_ready(pod):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def pod_problem(pod):
    """A reason the pod will not become Ready on its own, or None."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING:
            detail = waiting.get("message") or ""
            return "%s (%s%s)" % (FATAL_WAITING[reason], reason, ": " + detail if detail else "")
    if status.get("phase") == "Failed":
        return "pod failed: %s" % (status.get("reason") or status.get("message") or "unknown")
    return None


def container_image(obj, container):
    spec = obj["spec"]["template"]["spec"] if obj.get("kind") != "Pod" else obj["spec"]
    for item in spec.get("containers") or []:
        if item.get("name") == container:
            return item.get("image")
    return None


class Rollout:
    """Bring one StatefulSet's pod onto the StatefulSet's update revision."""

    def __init__(self, kube, check_mode=False, timeout=600, poll=1.0, health=None, container="backend",
                 clock=time.monotonic, sleep=time.sleep):
        self.kube = kube
        self.check_mode = check_mode
        self.timeout = timeout
        self.poll = poll
        self.health = health
        self.container = container
        self.clock = clock
        self.sleep = sleep

    def run(self, statefulset, companions=()):
        """Apply ``statefulset`` (and companion objects such as the dashboard), then roll its pod."""
        started = self.clock()
        meta = statefulset["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        before = self.kube.get("apps/v1", "StatefulSet", name, namespace)
        if before is None:
            raise RolloutError("StatefulSet %s/%s does not exist; converge the apps first" % (namespace, name))
        pod_name = "%s-0" % name
        pod = self.kube.get("v1", "Pod", pod_name, namespace)
        result = {
            "namespace": namespace, "statefulset": name, "pod": pod_name,
            "old_image": container_image(before, self.container),
            "new_image": container_image(statefulset, self.container),
            "old_revision": (pod or {}).get("metadata", {}).get("labels", {}).get(REVISION_LABEL),
            "replicas": before["spec"].get("replicas", 1),
        }
        applied = Batch(self.kube, self.check_mode).converge([statefulset] + list(companions))
        result["template_changed"] = any(r["changed"] for r in applied[:1])
        result["companions_changed"] = any(r["changed"] for r in applied[1:])
        result["diff"] = [r["diff"] for r in applied if r.get("diff")]
        if result["replicas"] == 0:
            result.update(action="template only, scaled to 0", restarted=False, new_revision=None)
            return self._done(result, started)
        if self.check_mode:
            on_revision = (not result["template_changed"] and pod is not None
                           and result["old_revision"] == before.get("status", {}).get("updateRevision")
                           and pod_ready(pod))
            result.update(restarted=not on_revision, action="none" if on_revision else "would restart pod",
                          new_revision=None)
            return self._done(result, started)
        sts = self._wait_observed(namespace, name)
        revision = sts["status"].get("updateRevision")
        result["new_revision"] = revision
        if pod is not None and pod["metadata"].get("labels", {}).get(REVISION_LABEL) == revision and pod_ready(pod):
            result.update(action="none", restarted=False)
            self._check_health(result)
            return self._done(result, started)
        if pod is not None:
            self.kube.delete("v1", "Pod", pod_name, namespace, preconditions={"uid": pod["metadata"]["uid"]})
        result["restarted"] = True
        result["action"] = "restarted pod"
        deleted_at = self.clock()
        self._wait_ready(namespace, pod_name, revision, (pod or {}).get("metadata", {}).get("uid"), result)
        result["pod_start_seconds"] = round(self.clock() - deleted_at, 3)
        self._check_health(result)
        return self._done(result, started)

    def _done(self, result, started):
        result["changed"] = bool(result["template_changed"] or result["companions_changed"] or result["restarted"])
        result["seconds"] = round(self.clock() - started, 3)
        return result

    def _deadline_passed(self, deadline):
        return self.clock() >= deadline

    def _wait_observed(self, namespace, name):
        """The StatefulSet once the controller has seen its latest spec (so updateRevision is current)."""
        deadline = self.clock() + self.timeout
        while True:
            sts = self.kube.get("apps/v1", "StatefulSet", name, namespace)
            status = sts.get("status") or {}
            if status.get("observedGeneration", 0) >= sts["metadata"].get("generation", 0) \
                    and status.get("updateRevision"):
                return sts
            if self._deadline_passed(deadline):
                raise RolloutError("the StatefulSet controller did not observe the new template of %s/%s within "
                                   "%ss" % (namespace, name, self.timeout))
            self.sleep(self.poll)

    def _wait_ready(self, namespace, pod_name, revision, old_uid, result):
        deadline = self.clock() + self.timeout
        last = "pod not recreated yet"
        while True:
            pod = self.kube.get("v1", "Pod", pod_name, namespace)
            if pod is not None and pod["metadata"].get("uid") != old_uid \
                    and not pod["metadata"].get("deletionTimestamp"):
                labels = pod["metadata"].get("labels") or {}
                if labels.get(REVISION_LABEL) != revision:
                    last = "new pod carries revision %s, not %s" % (labels.get(REVISION_LABEL), revision)
                else:
                    problem = pod_problem(pod)
                    if problem:
                        raise RolloutError("pod %s/%s: %s" % (namespace, pod_name, problem))
                    if pod_ready(pod):
                        return pod
                    last = "pod on revision %s is not Ready" % revision
            if self._deadline_passed(deadline):
                raise RolloutError("timeout after %ss waiting for pod %s/%s: %s"
                                   % (self.timeout, namespace, pod_name, last))
            self.sleep(self.poll)

    def _check_health(self, result):
        if not self.health:
            return
        deadline = self.clock() + self.timeout
        while True:
            ok, detail = self.health()
            if ok:
                result["health"] = detail
                return
            if self._deadline_passed(deadline):
                raise RolloutError("health check failed after %ss: %s" % (self.timeout, detail))
            self.sleep(self.poll)


def health_probe(url, validate_certs):
    """A probe of ``url``: (answered 2xx, what it answered)."""
    def probe():
        try:
            response = open_url(url, method="GET", timeout=10, validate_certs=validate_certs)
            return 200 <= response.getcode() < 300, "%s answered %s" % (url, response.getcode())
        except Exception as exc:  # any failure to answer is a failed probe, retried until the timeout
            return False, "%s: %s" % (url, exc)
    return probe


#: The convex_rollout module's arguments (see runner.py).
ARGUMENTS = dict(argument_spec=kube.argument_spec(
    statefulset=dict(type="dict", required=True),
    companions=dict(type="list", elements="dict", default=[]),
    container=dict(type="str", default="backend"),
    timeout=dict(type="int", default=600),
    poll_interval=dict(type="float", default=1.0),
    health_url=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
))


def run(call):
    """The convex_rollout module: one OnDelete rollout of the StatefulSet and its companions."""
    params = call.params
    meta = params["statefulset"].get("metadata") or {}
    health = health_probe(params["health_url"], params["validate_certs"]) if params["health_url"] else None
    try:
        with kube.connect(params) as client:
            result = Rollout(client, call.check_mode, params["timeout"], params["poll_interval"], health,
                             params["container"]).run(params["statefulset"], params["companions"])
    except PlatformError as exc:
        raise PlatformError("Rollout of %s/%s failed: %s" % (meta.get("namespace"), meta.get("name"), exc))
    diff = result.pop("diff")
    return dict(changed=result["changed"], rollout=result, diff=diff if call.diff else None)

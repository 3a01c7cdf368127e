"""Reading pod states the way the rollout does."""

import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import rollout


def pod(phase="Running", ready=None, waiting=None, message=None):
    status = {"phase": phase, "conditions": [], "containerStatuses": []}
    if ready is not None:
        status["conditions"].append({"type": "Ready", "status": "True" if ready else "False"})
    if waiting:
        state = {"waiting": {"reason": waiting}}
        if message:
            state["waiting"]["message"] = message
        status["containerStatuses"].append({"name": "backend", "state": state})
    return {"metadata": {"name": "p"}, "status": status}


@pytest.mark.parametrize("obj,expected", [
    (pod(ready=True), True), (pod(ready=False), False), (pod(), False), ({"metadata": {}}, False),
])
def test_pod_ready(obj, expected):
    assert rollout.pod_ready(obj) is expected


@pytest.mark.parametrize("obj,fragment", [
    (pod(waiting="ImagePullBackOff", message="not found"), "image pull error (ImagePullBackOff: not found)"),
    (pod(waiting="ErrImagePull"), "image pull error"),
    (pod(waiting="CrashLoopBackOff"), "crash loop"),
    (pod(waiting="CreateContainerConfigError"), "missing Secret key"),
    (pod(phase="Failed"), "pod failed"),
])
def test_pod_problem_names_the_reason(obj, fragment):
    assert fragment in rollout.pod_problem(obj)


@pytest.mark.parametrize("obj", [pod(ready=False), pod(waiting="ContainerCreating"), pod(phase="Pending")])
def test_transient_states_are_not_problems(obj):
    assert rollout.pod_problem(obj) is None


def test_container_image_of_template_and_pod():
    sts = {"kind": "StatefulSet", "spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "x:1"}, {"name": "backend", "image": "b:2"}]}}}}
    assert rollout.container_image(sts, "backend") == "b:2"
    assert rollout.container_image({"kind": "Pod", "spec": {"containers": [{"name": "backend", "image": "c"}]}},
                                   "backend") == "c"
    assert rollout.container_image(sts, "missing") is None

"""Make chosen pods of the local test cluster fail, through kwok Stage objects.

kwok runs with ``--enable-crds=Stage``: the Stage objects in the cluster are
the whole fake-kubelet behaviour. ``up.sh`` installs ``hn-pod-ready`` (weight
0). A fault added here is one more Stage with weight 100 that matches the
chosen pods while they are still Pending; kwok picks the heaviest matching
stage, so those pods take the fault instead of becoming Ready.

Modes (what the pod shows, and what a rollout check should report):

``not-ready``
    phase Running, container running and started, ``ready: false``;
    Ready/ContainersReady False (reason ContainersNotReady). Never Ready.
``crash-loop``
    phase Running, container ``waiting`` reason ``CrashLoopBackOff`` with
    ``lastState.terminated`` (exit code 1) and restartCount 5.
``image-pull``
    phase Pending, container ``waiting`` reason ``ImagePullBackOff``.

Match by container image (any container of the pod whose image equals
``image``; only that container is faulty) and/or by pod labels. A fault acts
on pods that start after it was added; remove it and new pods are healthy
again (pods already faulted stay as they are, like a real broken image).

Python API (stdlib only; drives the pinned kubectl the cluster build made)::

    from faults import add_fault, remove_fault, clear_faults
    add_fault("not-ready", image="ghcr.io/get-convex/convex-backend:broken")
    ...
    remove_fault("not-ready", image="ghcr.io/get-convex/convex-backend:broken")

CLI::

    python3 tests/cluster/faults.py add not-ready --image IMAGE
    python3 tests/cluster/faults.py add crash-loop --label app=planex
    python3 tests/cluster/faults.py remove not-ready --image IMAGE
    python3 tests/cluster/faults.py list
    python3 tests/cluster/faults.py clear
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("not-ready", "crash-loop", "image-pull")
FAULT_LABEL = "hansenexus.dev/kwok-fault"
PART_OF = {"app.kubernetes.io/part-of": "hansenexus-test-cluster"}
FAULT_WEIGHT = 100


class FaultError(Exception):
    """A fault could not be added, removed or listed."""


def _versions():
    out = {}
    with open(os.path.join(HERE, "versions.env")) as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                out[key] = value
    return out


def cache_dir():
    """The cache root, as tests/cluster/lib.sh computes it."""
    return os.environ.get("HANSENEXUS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "hansenexus")


def default_kubeconfig():
    """The kubeconfig up.sh writes (HN_CLUSTER_KUBECONFIG overrides it)."""
    if os.environ.get("HN_CLUSTER_KUBECONFIG"):
        return os.environ["HN_CLUSTER_KUBECONFIG"]
    state = os.environ.get("HN_CLUSTER_STATE") or os.path.join(cache_dir(), "cluster-state")
    return os.path.join(state, "kubeconfig")


def kubectl_path():
    """The kubectl built with the cluster (same version), else kubectl on PATH."""
    if os.environ.get("HN_CLUSTER_BIN"):
        candidate = os.path.join(os.environ["HN_CLUSTER_BIN"], "kubectl")
    else:
        v = _versions()
        key = "k8s-%s_etcd-%s_kwok-%s" % (v["K8S_VERSION"], v["ETCD_VERSION"], v["KWOK_VERSION"])
        candidate = os.path.join(cache_dir(), "cluster", key, "bin", "kubectl")
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("kubectl")
    if not found:
        raise FaultError("no kubectl: run tests/cluster/up.sh (it builds one) or put kubectl on PATH")
    return found


def _kubectl(args, kubeconfig=None, stdin=None):
    cmd = [kubectl_path(), "--kubeconfig", kubeconfig or default_kubeconfig()] + list(args)
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FaultError("%s failed: %s" % (" ".join(args[:2]), proc.stderr.strip()))
    return proc.stdout


def _go_string(value):
    # A JSON string literal is a valid Go template string literal.
    return json.dumps(value)


def stage_name(mode, image=None, labels=None):
    """Deterministic name of the Stage for one fault."""
    key = json.dumps({"mode": mode, "image": image, "labels": labels or {}}, sort_keys=True)
    return "hn-fault-%s-%s" % (mode, hashlib.sha256(key.encode()).hexdigest()[:10])


_COMMON_HEAD = """{{ $now := Now }}
{{ $uid := or .metadata.uid "" }}
{{ $bad := BAD }}
{{ $names := "" }}{{ range .spec.containers }}{{ if or (eq $bad "") (eq .image $bad) }}{{ $names = printf "%s %s" $names .name }}{{ end }}{{ end }}
"""

_CONDITIONS = """conditions:
- type: PodReadyToStartContainers
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: Initialized
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: ContainersReady
  status: "False"
  reason: ContainersNotReady
  message: {{ printf "containers with unready status: [%s]" (trimPrefix " " $names) | Quote }}
  lastTransitionTime: {{ $now | Quote }}
- type: Ready
  status: "False"
  reason: ContainersNotReady
  message: {{ printf "containers with unready status: [%s]" (trimPrefix " " $names) | Quote }}
  lastTransitionTime: {{ $now | Quote }}
"""

_IPS = """{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ with PodIPsWith .spec.nodeName (or .spec.hostNetwork false) $uid (or .metadata.name "") (or .metadata.namespace "") }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
"""

_HEALTHY_CONTAINER = """  imageID: {{ printf "kwok.local/%s" .image | Quote }}
  containerID: {{ printf "kwok://%s/%s" $uid .name | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
"""

_FAULTY_CONTAINER = {
    "not-ready": """  imageID: {{ printf "kwok.local/%s" .image | Quote }}
  containerID: {{ printf "kwok://%s/%s" $uid .name | Quote }}
  ready: false
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
""",
    "crash-loop": """  imageID: {{ printf "kwok.local/%s" .image | Quote }}
  containerID: {{ printf "kwok://%s/%s" $uid .name | Quote }}
  ready: false
  started: false
  restartCount: 5
  state:
    waiting:
      reason: CrashLoopBackOff
      message: {{ printf "back-off 5m0s restarting failed container=%s pod=%s_%s(%s)" .name $.metadata.name $.metadata.namespace $uid | Quote }}
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
      containerID: {{ printf "kwok://%s/%s" $uid .name | Quote }}
""",
    "image-pull": """  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q" .image | Quote }}
""",
}


def _template(mode, image):
    phase = "Pending" if mode == "image-pull" else "Running"
    body = _COMMON_HEAD.replace("BAD", _go_string(image or ""))
    body += "phase: %s\n" % phase
    if mode != "image-pull":
        body += "startTime: {{ $now | Quote }}\n"
    body += _CONDITIONS
    body += "containerStatuses:\n{{ range .spec.containers }}\n"
    body += "- name: {{ .name | Quote }}\n  image: {{ .image | Quote }}\n"
    body += "{{ if or (eq $bad \"\") (eq .image $bad) }}\n"
    body += _FAULTY_CONTAINER[mode]
    body += "{{ else }}\n"
    body += _HEALTHY_CONTAINER
    body += "{{ end }}\n{{ end }}\n"
    body += _IPS
    return body


def stage_for(mode, image=None, labels=None):
    """The Stage object (a dict) for one fault; see the module docstring."""
    if mode not in MODES:
        raise FaultError("unknown fault mode %r (choose from %s)" % (mode, ", ".join(MODES)))
    if not image and not labels:
        raise FaultError("a fault needs an image and/or labels to select pods")
    expressions = [
        {"jq": {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}},
        {"jq": {"key": ".status.phase", "operator": "In", "values": ["Pending"]}},
        # Already faulted pods stay put (image-pull keeps them Pending).
        {"jq": {"key": ".status.containerStatuses.[].state.waiting.reason",
                "operator": "NotIn", "values": ["ErrImagePull", "ImagePullBackOff"]}},
    ]
    if image:
        expressions.append({"jq": {"key": ".spec.containers.[].image",
                                   "operator": "In", "values": [image]}})
    selector = {"matchExpressions": expressions}
    if labels:
        selector["matchLabels"] = dict(labels)
    annotations = {"hansenexus.dev/fault-image": image or "",
                   "hansenexus.dev/fault-labels": json.dumps(labels or {}, sort_keys=True)}
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {
            "name": stage_name(mode, image, labels),
            "labels": dict(PART_OF, **{FAULT_LABEL: mode}),
            "annotations": annotations,
        },
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "weight": FAULT_WEIGHT,
            "selector": selector,
            "next": {"statusTemplate": _template(mode, image)},
        },
    }


def add_fault(mode, image=None, labels=None, kubeconfig=None):
    """Install a fault; returns the Stage name. Idempotent."""
    stage = stage_for(mode, image, labels)
    _kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=hn-faults", "-f", "-"],
             kubeconfig, stdin=json.dumps(stage))
    return stage["metadata"]["name"]


def remove_fault(mode, image=None, labels=None, kubeconfig=None):
    """Remove one fault (no error when it is absent)."""
    name = stage_name(mode, image, labels)
    _kubectl(["delete", "stages.kwok.x-k8s.io", name, "--ignore-not-found"], kubeconfig)
    return name


def list_faults(kubeconfig=None):
    """The installed faults as dicts: name, mode, image, labels."""
    data = json.loads(_kubectl(["get", "stages.kwok.x-k8s.io", "-l", FAULT_LABEL, "-o", "json"],
                               kubeconfig))
    out = []
    for item in data.get("items", []):
        meta = item["metadata"]
        ann = meta.get("annotations", {})
        out.append({"name": meta["name"], "mode": meta["labels"][FAULT_LABEL],
                    "image": ann.get("hansenexus.dev/fault-image") or None,
                    "labels": json.loads(ann.get("hansenexus.dev/fault-labels") or "{}")})
    return out


def clear_faults(kubeconfig=None):
    """Remove every fault."""
    _kubectl(["delete", "stages.kwok.x-k8s.io", "-l", FAULT_LABEL, "--ignore-not-found"], kubeconfig)


def _parse_labels(pairs):
    labels = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise FaultError("--label wants KEY=VALUE, got %r" % pair)
        key, value = pair.split("=", 1)
        labels[key] = value
    return labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--kubeconfig", default=None, help="default: the one up.sh wrote")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("add", "remove"):
        p = sub.add_parser(command)
        p.add_argument("mode", choices=MODES)
        p.add_argument("--image", help="match pods with a container running exactly this image")
        p.add_argument("--label", action="append", help="KEY=VALUE pod label to match (repeatable)")
    sub.add_parser("list")
    sub.add_parser("clear")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            print(add_fault(args.mode, args.image, _parse_labels(args.label), args.kubeconfig))
        elif args.command == "remove":
            print(remove_fault(args.mode, args.image, _parse_labels(args.label), args.kubeconfig))
        elif args.command == "list":
            for fault in list_faults(args.kubeconfig):
                print(json.dumps(fault, sort_keys=True))
        else:
            clear_faults(args.kubeconfig)
    except FaultError as exc:
        print("faults.py: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

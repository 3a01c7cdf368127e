"""Benchmarks of converging and upgrading the estate on the local control plane, against the floor.

Not a test: nothing here asserts a time. It prints a table, writes a JSON file and a PNG plot.

    python tests/bench/bench.py [--sizes 7,25,50] [--out FILE.json] [--plot FILE.png] [--no-upgrade]

Run it with the project venv's python (it calls that venv's ansible-playbook). It starts its own control
plane (tests/cluster/up.sh) on ports and a state directory of its own, so it never touches a cluster of
`make cluster-up` or of a test run, and stops it (down.sh) when done. See tests/bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLUSTER = os.path.join(ROOT, "tests", "cluster")
BIN = os.path.dirname(sys.executable)
CACHE = os.environ.get("HANSENEXUS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hansenexus")
sys.path.insert(0, os.path.join(ROOT, "collections"))

# Ports and state of the benchmark's own control plane (defaults of tests/cluster are 1xxxx).
CLUSTER_ENV = {
    "HN_CLUSTER_STATE": os.path.join(CACHE, "bench-state"),
    "HN_CLUSTER_ETCD_PORT": "32379",
    "HN_CLUSTER_ETCD_PEER_PORT": "32380",
    "HN_CLUSTER_APISERVER_PORT": "36443",
    "HN_CLUSTER_KCM_PORT": "36257",
    "HN_CLUSTER_SCHEDULER_PORT": "36259",
    "HN_CLUSTER_KWOK_PORT": "36247",
    # Two fake nodes: at 50 apps the estate has ~116 pods, more than one node's 110.
    "HN_CLUSTER_NODES": "hn-k3s-1 hn-k3s-2",
}

VERSION = "2f8e7ad5c7a5ef1a0a94f0a67d64d35b6aebe0c1"
UPGRADE_VERSIONS = ("bench-upgrade-1", "bench-upgrade-2")
BASE_APPS = ["calnexus", "lexilink", "planex", "nexus-lms", "archus", "bgs-service"]
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

TARGETS = {
    "converge_7_over_floor": 2.0,   # converge at 7 apps within 2x of the kubectl floor
    "noop_7_seconds": 10.0,         # no-op re-run of the apps layer at 7 apps under 10 s
    "noop_seconds_per_app": 0.3,    # each extra app adds under 0.3 s to a re-run
    "upgrade_overhead_per_app": 2.0,  # beyond the pod's own start time
}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --- the estate ------------------------------------------------------------------------------------
def estate(n):
    """N apps on k3s, lexilink-like ones (production + staging + preview at 0) in production's 1-in-6."""
    lexilike = max(1, int(round(n / 6.0)))
    names = list(BASE_APPS) + ["bench-%02d" % i for i in range(len(BASE_APPS) + 1, n + 1)]
    names = names[:n]
    # Spread the lexilink-like ones evenly; lexilink itself is always one of them.
    step = n / float(lexilike)
    lexi = {"lexilink"} | {names[int(i * step)] for i in range(1, lexilike)}
    while len(lexi) < lexilike:
        lexi.add(next(x for x in names if x not in lexi))
    apps = []
    for name in names:
        if name in lexi:
            apps.append({"name": name, "environments": {
                "production": {"api_host": "api.%s.test" % name},
                "staging": {"namespace": "hn-staging"},
                "preview": {"namespace": "hn-preview", "replicas": 0},
            }})
        else:
            apps.append({"name": name})
    return apps


def write_inventory(directory, n, kubeconfig):
    apps = estate(n)
    os.makedirs(os.path.join(directory, "group_vars", "all"), exist_ok=True)
    hosts = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
                     "children": {"k3s_node": {"hosts": {}}, "hn_hub": {"hosts": {}}}}}
    group_vars = {
        "platform_domain": "hansenexus.test",
        "platform_convex_version": VERSION,
        "platform_canary": "planex",
        "platform_secret_store": "kubernetes",
        "platform_kubeconfig": kubeconfig,
        "platform_data_root": "/mnt/data/convex",
        "platform_hetzner_enabled": False,
        "platform_onepassword_enabled": False,
        "platform_apps": apps,
        # Smaller requests than production so 50 apps fit two fake 8-CPU nodes (the API work is the same).
        "convex_apps_resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "2Gi"}},
        "convex_apps_dashboard_resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                            "limits": {"memory": "256Mi"}},
        "convex_apps_node_capacity": {"cpu": "16", "memory": "64Gi"},
    }
    with open(os.path.join(directory, "hosts.yml"), "w") as handle:
        yaml.safe_dump(hosts, handle, sort_keys=False)
    with open(os.path.join(directory, "group_vars", "all", "estate.yml"), "w") as handle:
        handle.write("---\n")
        yaml.safe_dump(group_vars, handle, sort_keys=False)
    instances = sum(3 if a.get("environments") else 1 for a in apps)
    return {"apps": n, "lexilink_like": sum(1 for a in apps if a.get("environments")), "instances": instances}


# --- processes ---------------------------------------------------------------------------------------
def _tree_rss_kb(root):
    """Sum of VmRSS of ``root`` and all its descendants, in KiB."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/statm" % entry) as handle:
                pages = int(handle.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run(cmd, env=None, sample=False, timeout=3600):
    """Run ``cmd``; wall seconds, output, and (sample=True) peak RSS of its process tree.

    ``maxrss_kb`` is ru_maxrss from wait4: the largest single process of the tree (ansible's
    controller, a forked worker or a module's python). ``tree_peak_kb`` is the peak of the summed RSS
    of the whole tree, sampled every 50 ms.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    out = tempfile.TemporaryFile(mode="w+")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    peak = [0]
    stop = threading.Event()

    def sampler():
        while not stop.wait(0.05):
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

    thread = threading.Thread(target=sampler, daemon=True) if sample else None
    if thread:
        thread.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    if thread:
        thread.join()
    out.seek(0)
    output = out.read()
    return {"rc": proc.returncode, "seconds": round(wall, 3), "output": output,
            "maxrss_kb": usage.ru_maxrss, "tree_peak_kb": peak[0],
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}


def cluster_env(delay="1s"):
    env = dict(CLUSTER_ENV)
    env.update({k: v for k, v in os.environ.items() if k in CLUSTER_ENV})
    env.setdefault("HN_CLUSTER_KUBECONFIG", os.environ.get("HN_CLUSTER_KUBECONFIG")
                   or os.path.join(env["HN_CLUSTER_STATE"], "kubeconfig"))
    env["KWOK_POD_READY_DELAY"] = delay
    return env


def fresh_cluster(delay="1s"):
    """down.sh + up.sh on the benchmark's state dir; returns seconds the start took."""
    env = cluster_env(delay)
    run([os.path.join(CLUSTER, "down.sh")], env=env)
    result = run([os.path.join(CLUSTER, "up.sh")], env=env)
    if result["rc"] != 0:
        raise SystemExit("tests/cluster/up.sh failed:\n%s" % result["output"][-4000:])
    return result["seconds"]


def cluster_down():
    run([os.path.join(CLUSTER, "down.sh")], env=cluster_env())


def kubectl_bin():
    with open(os.path.join(CLUSTER, "versions.env")) as handle:
        versions = dict(line.strip().split("=", 1) for line in handle
                        if "=" in line and not line.startswith("#"))
    key = "k8s-%s_etcd-%s_kwok-%s" % tuple(versions[k].strip('"') for k in
                                           ("K8S_VERSION", "ETCD_VERSION", "KWOK_VERSION"))
    default = os.path.join(CACHE, "cluster", key, "bin")
    return os.path.join(os.environ.get("HN_CLUSTER_BIN", default), "kubectl")


def kubectl(*args, **kwargs):
    env = cluster_env()
    cmd = [kubectl_bin(), "--kubeconfig", env["HN_CLUSTER_KUBECONFIG"]] + list(args)
    return run(cmd, env=kwargs.get("env"))


def playbook(name, inventory, events, extra_vars=None, args=()):
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, name]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    env = {"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0",
           "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
           "ANSIBLE_CALLBACKS_ENABLED": "bench_timing", "HN_BENCH_EVENTS": events}
    if os.path.exists(events):
        os.unlink(events)
    started = time.time()
    result = run(cmd, env=env, sample=True)
    result["recap"] = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                    "failed": int(m.group(5))} for m in RECAP.finditer(result["output"])}
    result["changed"] = sum(h["changed"] for h in result["recap"].values())
    result["events"] = read_events(events, started)
    if result["rc"] != 0:
        raise RuntimeError("%s failed (rc %s):\n%s" % (name, result["rc"], result["output"][-6000:]))
    return result


def read_events(path, started):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    for event in events:
        event["t"] = round(event["t"] - started, 3)
    return events


def task_profile(result):
    """[(task, action, seconds)] from the callback's task_start/result events, plus start-up and exit."""
    events = result["events"]
    rows = []
    starts = [e for e in events if e["event"] == "task_start"]
    end = next((e["t"] for e in events if e["event"] == "playbook_end"), result["seconds"])
    for i, event in enumerate(starts):
        stop = starts[i + 1]["t"] if i + 1 < len(starts) else end
        rows.append((event["task"], event["action"], round(stop - event["t"], 3)))
    first = next((e["t"] for e in events if e["event"] == "playbook_start"), 0.0)
    rows.insert(0, ("(ansible-playbook start-up, inventory, collection loading)", "-", round(first, 3)))
    rows.append(("(stats and exit)", "-", round(result["seconds"] - end, 3)))
    return rows


# --- the floor ------------------------------------------------------------------------------------------
def export_secrets(namespaces, path):
    """The Secrets the converge made, stripped to what an apply needs (values included, file mode 0600)."""
    items = []
    for namespace in namespaces:
        listing = kubectl("get", "secrets", "-n", namespace, "-o", "json")
        for item in json.loads(listing["output"])["items"]:
            meta = item["metadata"]
            if not meta["name"].startswith("convex-"):
                continue
            items.append({"apiVersion": "v1", "kind": "Secret", "type": item.get("type", "Opaque"),
                          "metadata": {"name": meta["name"], "namespace": namespace,
                                       "labels": meta.get("labels") or {}},
                          "data": item.get("data") or {}})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, handle)
    return len(items)


def count_objects(directory):
    count = 0
    for name in os.listdir(directory):
        with open(os.path.join(directory, name)) as handle:
            if name.endswith(".json"):
                count += len(json.load(handle)["items"])
            else:
                count += sum(1 for doc in yaml.safe_load_all(handle) if doc)
    return count


def floor(directory, cache_dir):
    """kubectl apply --server-side of the rendered manifests plus the Secrets, once and once more."""
    env = {"KUBECACHEDIR": cache_dir}
    args = ("apply", "--server-side", "--force-conflicts", "--field-manager=bench-floor", "-f", directory)
    first = kubectl(*args, env=env)
    if first["rc"] != 0:
        raise RuntimeError("kubectl apply failed:\n%s" % first["output"][-4000:])
    again = kubectl(*args, env=env)
    return first["seconds"], again["seconds"]


def in_process_noop(directory, kubeconfig):
    """One no-op converge of the same objects with module_utils.apply, in this process: API time only."""
    from ansible_collections.hansenexus.platform.plugins.module_utils.apply import Batch
    from ansible_collections.hansenexus.platform.plugins.module_utils.kube import Kube

    objects = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".yaml"):
            with open(os.path.join(directory, name)) as handle:
                objects.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    for obj in objects:   # the rendered files carry the applied-hash annotation; Batch adds it itself
        annotations = obj["metadata"].get("annotations") or {}
        annotations.pop("hansenexus.dev/applied-hash", None)
        if not annotations:
            obj["metadata"].pop("annotations", None)
    kube = Kube(kubeconfig)
    calls = [0]
    original = kube.request

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    kube.request = counting
    started = time.monotonic()
    results = Batch(kube).converge(objects)
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 3), "requests": calls[0], "objects": len(objects),
            "changed": sum(1 for r in results if r["changed"])}


# --- one estate size ----------------------------------------------------------------------------------
def _median(results, key="seconds"):
    """The median run of ``results`` by ``key`` (the upper one of an even count)."""
    return sorted(results, key=lambda r: r[key])[len(results) // 2]


def bench_size(n, work, repeats=3, converge_repeats=3):
    log("N=%d: inventory" % n)
    inv = os.path.join(work, "inv-%d" % n)
    kubeconfig = cluster_env()["HN_CLUSTER_KUBECONFIG"]
    shape = write_inventory(inv, n, kubeconfig)
    events = os.path.join(work, "events-%d.jsonl" % n)
    row = dict(shape)

    converges = []
    for i in range(converge_repeats):
        row["cluster_start_seconds"] = fresh_cluster()
        log("N=%d: converge from empty %d/%d" % (n, i + 1, converge_repeats))
        converges.append(playbook("playbooks/apps.yml", inv, events))
    converge = _median(converges)
    row.update(converge_seconds=converge["seconds"], converge_changed=converge["changed"],
               converge_samples=[r["seconds"] for r in converges],
               converge_maxrss_mb=round(max(r["maxrss_kb"] for r in converges) / 1024.0, 1),
               converge_tree_peak_mb=round(max(r["tree_peak_kb"] for r in converges) / 1024.0, 1),
               converge_cpu_seconds=converge["cpu_seconds"], converge_profile=task_profile(converge))
    noops = []
    for i in range(repeats):
        log("N=%d: no-op re-run %d/%d" % (n, i + 1, repeats))
        noops.append(playbook("playbooks/apps.yml", inv, events))
        if noops[-1]["changed"] != 0:
            log("WARNING: the re-run at N=%d reported changed=%d; the no-op figure is not a no-op"
                % (n, noops[-1]["changed"]))
    noop = _median(noops)
    row.update(noop_seconds=noop["seconds"], noop_changed=max(r["changed"] for r in noops),
               noop_samples=[r["seconds"] for r in noops], loadavg=[round(x, 2) for x in os.getloadavg()],
               noop_maxrss_mb=round(noop["maxrss_kb"] / 1024.0, 1),
               noop_tree_peak_mb=round(noop["tree_peak_kb"] / 1024.0, 1),
               noop_cpu_seconds=noop["cpu_seconds"], noop_profile=task_profile(noop))

    log("N=%d: render and export Secrets" % n)
    rendered = os.path.join(work, "render-%d" % n)
    shutil.rmtree(rendered, ignore_errors=True)
    playbook("playbooks/render.yml", inv, events, extra_vars={"render_dir": rendered})
    with open(os.path.join(rendered, "00-namespaces.yaml")) as handle:
        namespaces = [doc["metadata"]["name"] for doc in yaml.safe_load_all(handle) if doc]
    row["in_process_noop"] = in_process_noop(rendered, kubeconfig)
    row["secrets"] = export_secrets(namespaces, os.path.join(rendered, "01-secrets.json"))
    row["objects"] = count_objects(rendered)

    floors = []
    for i in range(converge_repeats):
        log("N=%d: floor (kubectl apply --server-side) on a fresh cluster %d/%d" % (n, i + 1, converge_repeats))
        fresh_cluster()
        # Each run starts with an empty discovery cache, as each converge discovers the API afresh.
        first, again = floor(rendered, os.path.join(work, "kubectl-cache-%d-%d" % (n, i)))
        floors.append({"seconds": first, "reapply": again})
    row["floor_seconds"] = _median(floors)["seconds"]
    row["floor_reapply_seconds"] = _median(floors, "reapply")["reapply"]
    row["floor_samples"] = [f["seconds"] for f in floors]
    row["converge_over_floor"] = round(row["converge_seconds"] / row["floor_seconds"], 2)
    shutil.rmtree(rendered, ignore_errors=True)   # it holds Secret values
    return row


# --- upgrade --------------------------------------------------------------------------------------------
def wait_pods_ready(timeout=300):
    """Wait until every managed pod is Ready; returns (pods, pods recreated).

    A StatefulSet pod created a moment before its pre-bound claim reports Bound can be parked by the
    scheduler ("unbound immediate PersistentVolumeClaims") for its 5-minute unschedulable backoff. Such a
    pod, still unscheduled after 20 s, is deleted once so its controller makes a new one.
    """
    deadline = time.monotonic() + timeout
    recreated = set()
    while time.monotonic() < deadline:
        pods = json.loads(kubectl("get", "pods", "-A", "-l", "app.kubernetes.io/managed-by=hansenexus.platform",
                                  "-o", "json")["output"])["items"]
        ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                        for c in (p.get("status") or {}).get("conditions") or [])]
        if pods and len(ready) == len(pods):
            return len(pods), len(recreated)
        now = datetime.datetime.now(datetime.timezone.utc)
        for pod in pods:
            meta = pod["metadata"]
            created = datetime.datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            key = (meta["namespace"], meta["name"])
            if not pod["spec"].get("nodeName") and (now - created).total_seconds() > 20 and key not in recreated:
                log("pod %s/%s unscheduled for 20 s; deleting it once (scheduler backoff)" % key)
                kubectl("delete", "pod", "-n", key[0], key[1], "--wait=false")
                recreated.add(key)
        time.sleep(1)
    raise RuntimeError("pods did not become Ready within %ss" % timeout)


def parse_upgrade(result, delay):
    """Per app environment: wall time from its "Start" task to the next one's, rollout module time,
    measured pod start (pod deleted -> new pod Ready), and the overhead beyond the known pod-ready delay."""
    profile = task_profile(result)
    rollouts = [e["rollout"] for e in result["events"] if e["event"] == "result" and "rollout" in e]
    segments, before = [], 0.0
    for task, _action, seconds in profile:
        if " : Start " in task or task.startswith("Start "):
            segments.append({"app": task.split("Start ", 1)[1], "wall": 0.0, "tasks": {}})
        if not segments:
            before += seconds
            continue
        if task.startswith("Remind to pin") or task.startswith("("):
            continue
        segments[-1]["wall"] += seconds
        name = task.split(" : ", 1)[-1].split(" " + segments[-1]["app"])[0]
        segments[-1]["tasks"][name] = round(segments[-1]["tasks"].get(name, 0.0) + seconds, 3)
    apps = []
    for i, seg in enumerate(segments):
        rollout = rollouts[i] if i < len(rollouts) else {}
        restarted = bool(rollout.get("restarted"))
        apps.append({
            "app": seg["app"], "action": rollout.get("action"), "wall_seconds": round(seg["wall"], 3),
            "module_seconds": rollout.get("seconds"), "pod_start_seconds": rollout.get("pod_start_seconds"),
            "restarted": restarted, "tasks": seg["tasks"],
            "overhead_seconds": round(seg["wall"] - (delay if restarted else 0.0), 3),
        })
    restarted = [a for a in apps if a["restarted"]]
    return {
        "seconds": result["seconds"], "changed": result["changed"], "apps": apps, "restarted": len(restarted),
        "before_first_app_seconds": round(before, 3),
        "mean_wall_per_restarted_app": _mean([a["wall_seconds"] for a in restarted]),
        "mean_module_per_restarted_app": _mean([a["module_seconds"] for a in restarted]),
        "mean_pod_start_seconds": _mean([a["pod_start_seconds"] for a in restarted]),
        # wall time of one app beyond the pod's own (kwok) start delay
        "overhead_per_app": _mean([a["overhead_seconds"] for a in restarted]),
        # everything the playbook spent beyond N x pod delay, spread over the restarted apps
        "total_overhead_per_app": round((result["seconds"] - delay * len(restarted)) / len(restarted), 3)
        if restarted else None,
        "maxrss_mb": round(result["maxrss_kb"] / 1024.0, 1),
        "profile": profile,
    }


def _mean(values):
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def bench_upgrade(n, work, delay_text, backup):
    delay = _seconds(delay_text)
    inv = os.path.join(work, "inv-upgrade-%d" % n)
    shape = write_inventory(inv, n, cluster_env()["HN_CLUSTER_KUBECONFIG"])
    events = os.path.join(work, "events-upgrade.jsonl")
    log("upgrade N=%d: fresh cluster with pod-ready delay %s" % (n, delay_text))
    fresh_cluster(delay_text)
    playbook("playbooks/apps.yml", inv, events)
    pods, recreated = wait_pods_ready()
    out = dict(shape, pod_ready_delay_seconds=delay, pods=pods, pods_recreated_before_upgrade=recreated)
    for version, with_backup in zip(UPGRADE_VERSIONS, (False, True)):
        if with_backup and not backup:
            continue
        label = "with_backup_probe" if with_backup else "without_backup"
        log("upgrade N=%d: playbooks/upgrade.yml -> %s (%s)" % (n, version, label))
        result = playbook("playbooks/upgrade.yml", inv, events, extra_vars={
            "convex_version": version, "convex_apps_upgrade_health_check": False,
            "convex_apps_backup_enabled": with_backup})
        out[label] = parse_upgrade(result, delay)
    return out


def _seconds(text):
    text = str(text).strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    return float(text)


# --- output ---------------------------------------------------------------------------------------------
def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    n = float(len(xs))
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den, 4) if den else None


def summarize(rows, upgrade):
    xs = [r["apps"] for r in rows]
    summary = {
        "noop_seconds_per_app": slope(xs, [r["noop_seconds"] for r in rows]) if len(rows) > 1 else None,
        "converge_seconds_per_app": slope(xs, [r["converge_seconds"] for r in rows]) if len(rows) > 1 else None,
        "floor_seconds_per_app": slope(xs, [r["floor_seconds"] for r in rows]) if len(rows) > 1 else None,
        "noop_pairwise_slopes": [
            {"from": a["apps"], "to": b["apps"],
             "seconds_per_app": round((b["noop_seconds"] - a["noop_seconds"]) / (b["apps"] - a["apps"]), 4)}
            for a, b in zip(rows, rows[1:])],
    }
    seven = next((r for r in rows if r["apps"] == 7), None)
    verdict = {}
    if seven:
        verdict["converge_7_over_floor"] = (seven["converge_over_floor"], TARGETS["converge_7_over_floor"])
        verdict["noop_7_seconds"] = (seven["noop_seconds"], TARGETS["noop_7_seconds"])
    if summary["noop_seconds_per_app"] is not None:
        verdict["noop_seconds_per_app"] = (summary["noop_seconds_per_app"], TARGETS["noop_seconds_per_app"])
    if upgrade and upgrade.get("without_backup", {}).get("overhead_per_app") is not None:
        verdict["upgrade_overhead_per_app"] = (upgrade["without_backup"]["overhead_per_app"],
                                               TARGETS["upgrade_overhead_per_app"])
    summary["targets"] = {k: {"measured": v, "target": t, "met": v < t} for k, (v, t) in verdict.items()}
    return summary


def print_table(rows, summary, upgrade):
    w = sys.stdout.write
    w("\nConverge and no-op re-run of playbooks/apps.yml vs the kubectl floor (seconds)\n\n")
    head = ("apps", "inst", "objects", "converge", "floor", "ratio", "no-op", "floor re-apply",
            "API only", "max RSS MB", "tree MB")
    w("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    for r in rows:
        cells = (r["apps"], r["instances"], r["objects"], "%.2f" % r["converge_seconds"],
                 "%.2f" % r["floor_seconds"], "%.2fx" % r["converge_over_floor"], "%.2f" % r["noop_seconds"],
                 "%.2f" % r["floor_reapply_seconds"], "%.2f" % r["in_process_noop"]["seconds"],
                 "%.0f" % max(r["converge_maxrss_mb"], r["noop_maxrss_mb"]),
                 "%.0f" % max(r["converge_tree_peak_mb"], r["noop_tree_peak_mb"]))
        w("| " + " | ".join(str(c) for c in cells) + " |\n")
    if summary.get("noop_seconds_per_app") is not None:
        w("\nslope per extra app: no-op %.3f s, converge %.3f s, floor %.3f s\n"
          % (summary["noop_seconds_per_app"], summary["converge_seconds_per_app"],
             summary["floor_seconds_per_app"]))
    if upgrade:
        for label in ("without_backup", "with_backup_probe"):
            up = upgrade.get(label)
            if not up:
                continue
            values = (upgrade["apps"], upgrade["instances"], upgrade["pod_ready_delay_seconds"],
                      label.replace("_", " "), up["seconds"], up["restarted"])
            w("\nUpgrade, %d apps / %d instances, pod-ready delay %.1f s, %s: total %.2f s, "
              "%d pods restarted\n" % values)
            keys = ("mean_wall_per_restarted_app", "mean_module_per_restarted_app", "mean_pod_start_seconds",
                    "overhead_per_app", "total_overhead_per_app")
            w("  per restarted app: wall %s s, rollout module %s s, pod start (measured) %s s, "
              "overhead beyond the delay %s s; all-in overhead per app %s s\n" % tuple(_fmt(up[k]) for k in keys))
    if summary.get("targets"):
        w("\nTargets\n\n| target | measured | limit | met |\n|---|---|---|---|\n")
        for key, item in summary["targets"].items():
            w("| %s | %s | %s | %s |\n" % (key, item["measured"], item["target"], "yes" if item["met"] else "NO"))
    w("\n")


def _fmt(value):
    return "-" if value is None else "%.2f" % value


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["apps"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (("converge_seconds", "converge from empty (ansible-playbook)", "o-"),
                              ("noop_seconds", "no-op re-run (ansible-playbook)", "s-"),
                              ("floor_seconds", "floor: kubectl apply --server-side", "^--"),
                              ("floor_reapply_seconds", "floor: kubectl re-apply", "v:")):
        ax.plot(xs, [r[key] for r in rows], style, label=label)
    ax.set_xlabel("apps on k3s")
    ax.set_ylabel("seconds")
    ax.set_title("hansenexus.platform apps layer on the local control plane")
    ax.set_xticks(xs)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="7,25,50", help="apps per estate, comma separated")
    parser.add_argument("--out", help="JSON result file (default tests/bench/results/<timestamp>.json)")
    parser.add_argument("--plot", help="PNG plot (default: next to the JSON file)")
    parser.add_argument("--upgrade-apps", type=int, default=7)
    parser.add_argument("--pod-ready-delay", default="2s", help="kwok pod-ready delay of the upgrade run")
    parser.add_argument("--no-upgrade", action="store_true")
    parser.add_argument("--no-backup-probe", action="store_true",
                        help="skip the second upgrade run that goes through the backup step (reported skipped)")
    parser.add_argument("--noop-repeats", type=int, default=3, help="no-op re-runs per size (median reported)")
    parser.add_argument("--converge-repeats", type=int, default=3,
                        help="converges from empty and floor runs per size, each on a fresh cluster (median reported)")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the benchmark cluster running")
    opts = parser.parse_args()

    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    out = opts.out or os.path.join(HERE, "results", "%s.json" % stamp)
    png = opts.plot or os.path.splitext(out)[0] + ".png"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    work = tempfile.mkdtemp(prefix="hn-bench-")
    sizes = [int(s) for s in opts.sizes.split(",") if s.strip()]
    rows, upgrade, error = [], None, None
    try:
        for n in sizes:
            rows.append(bench_size(n, work, opts.noop_repeats, opts.converge_repeats))
        if not opts.no_upgrade:
            upgrade = bench_upgrade(opts.upgrade_apps, work, opts.pod_ready_delay, not opts.no_backup_probe)
    except (RuntimeError, SystemExit) as exc:   # keep what was measured
        error = str(exc)
        log("stopped early: %s" % error[-2000:])
    finally:
        if not opts.keep_cluster:
            cluster_down()
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(rows, upgrade)
    load = os.getloadavg()
    result = {
        "timestamp": stamp, "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                     "loadavg_at_end": [round(x, 2) for x in load]},
        "cluster_env": {k: v for k, v in cluster_env().items() if k != "KWOK_POD_READY_DELAY"},
        "sizes": rows, "upgrade": upgrade, "summary": summary, "error": error,
        "self_ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    with open(out, "w") as handle:
        json.dump(result, handle, indent=2)
    print_table(rows, summary, upgrade)
    if len(rows) > 0:
        plot(rows, png)
    sys.stdout.write("JSON: %s\nplot: %s\n" % (out, png if rows else "-"))
    if error:
        sys.exit(1)


if __name__ == "__main__":
    main()

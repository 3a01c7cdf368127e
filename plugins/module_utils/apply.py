# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a batch of Kubernetes objects in one call.

Live objects are read with one LIST per kind and namespace wherever the batch
holds two or more objects of that kind there (one GET otherwise), so a no-op
run costs about one request per kind and namespace, not one per object. An
object whose applied-hash annotation matches the desired object and whose live
state still contains every desired field is left alone (no write, no dry run).
Anything else is server-side applied (dry run in check mode) and
``changed`` is decided by comparing the live object before and after, which
also yields the diff. Secret values never reach the diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.hansenexus.platform.plugins.module_utils import kube, naming
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import KubernetesError, PlatformError
from ansible_collections.hansenexus.platform.plugins.module_utils.kube import NotFound

#: Kinds applied before the rest (they are what others live in or bind to).
FIRST_KINDS = ("Namespace", "CustomResourceDefinition", "PersistentVolume")
VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp")
REDACTED = "<redacted>"
#: Objects of one kind in one namespace from which they are read with one LIST instead of GETs.
LIST_THRESHOLD = 2
#: Marks an object the prefetch did not read (None means read and absent).
_UNREAD = object()


def desired_hash(obj):
    """Stable hash of the desired object, stored on it as an annotation."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def with_hash(obj):
    obj = copy.deepcopy(obj)
    marker = desired_hash(obj)
    obj["metadata"].setdefault("annotations", {})[naming.ANNOTATION_APPLIED] = marker
    return obj


def contains(current, desired):
    """True when every field of ``desired`` has the same value in ``current``."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(contains(current.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(current, list) and len(current) == len(desired)
                and all(contains(c, d) for c, d in zip(current, desired)))
    if isinstance(desired, bool) or isinstance(current, bool):
        return desired is current
    if isinstance(desired, (int, float)) and isinstance(current, (int, float)):
        return desired == current
    return desired == current or (desired is not None and current is not None and str(desired) == str(current))


def comparable(obj):
    """The object without the fields the server changes on every write."""
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    obj.pop("status", None)
    return obj


def redact(obj):
    """A copy safe to show: Secret values replaced, server bookkeeping dropped."""
    obj = comparable(obj)
    if obj and obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                obj[field] = {k: REDACTED for k in obj[field]}
    annotations = (obj or {}).get("metadata", {}).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


def ident(obj):
    meta = obj.get("metadata", {})
    return "%s/%s %s" % (obj.get("kind"), meta.get("name"),
                         ("in %s" % meta["namespace"]) if meta.get("namespace") else "(cluster)")


class Batch:
    """One converge of a list of objects against one cluster."""

    def __init__(self, kube, check_mode=False, workers=8):
        self.kube = kube
        self.check_mode = check_mode
        self.workers = max(1, workers)

    def converge(self, objects):
        """Results in input order: dicts with kind, name, namespace, action, changed, diff."""
        objects = [with_hash(o) for o in objects]
        results = [None] * len(objects)
        first = [i for i, o in enumerate(objects) if o["kind"] in FIRST_KINDS]
        rest = [i for i, o in enumerate(objects) if o["kind"] not in FIRST_KINDS]
        for index, result in self._run(objects, first, set()):
            results[index] = result
        # In check mode nothing was created: objects of namespaces that do not exist yet cannot be
        # dry-run by the server, so they are predicted as created.
        absent = self._absent_namespaces(objects, rest) if self.check_mode else set()
        for index, result in self._run(objects, rest, absent):
            results[index] = result
        return results

    def _absent_namespaces(self, objects, indexes):
        names = sorted({objects[i]["metadata"].get("namespace") for i in indexes} - {None})
        return {n for n in names if self.kube.get("v1", "Namespace", n) is None}

    def _run(self, objects, indexes, absent_namespaces):
        if not indexes:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(indexes))) as pool:
            live = self._prefetch(pool, objects, indexes)
            futures = [(i, pool.submit(self._one, objects[i], absent_namespaces, live.get(i, _UNREAD)))
                       for i in indexes]
            return [(i, f.result()) for i, f in futures]

    def _prefetch(self, pool, objects, indexes):
        """Live objects by index (None: absent), from one LIST per kind and namespace with enough objects.

        A LIST without selector sees every object of the kind in the namespace, so an object missing from
        it does not exist. Groups that cannot be listed are left to per-object GETs (which report the error).
        """
        groups = {}
        for i in indexes:
            meta = objects[i]["metadata"]
            groups.setdefault((objects[i]["apiVersion"], objects[i]["kind"], meta.get("namespace")), []).append(i)
        jobs = [(key, members) for key, members in groups.items() if len(members) >= LIST_THRESHOLD]
        futures = [(key, members, pool.submit(self._list_group, *key)) for key, members in jobs]
        live = {}
        for (api_version, kind, _namespace), members, future in futures:
            items = future.result()
            if items is None:
                continue
            by_name = {}
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                by_name[item["metadata"]["name"]] = item
            for i in members:
                live[i] = by_name.get(objects[i]["metadata"]["name"])
        return live

    def _list_group(self, api_version, kind, namespace):
        try:
            if self.kube.is_namespaced(api_version, kind) != bool(namespace):
                return None
            return self.kube.list(api_version, kind, namespace=namespace)
        except KubernetesError:
            return None

    def _one(self, obj, absent_namespaces, current=_UNREAD):
        meta = obj["metadata"]
        result = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "name": meta["name"],
                  "namespace": meta.get("namespace"), "action": "none", "changed": False}
        if current is _UNREAD:
            try:
                current = self.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            except KubernetesError as exc:
                raise KubernetesError("reading %s: %s" % (ident(obj), exc))
        if current is not None and _unchanged(current, obj):
            return result
        if current is None and meta.get("namespace") in absent_namespaces:
            after = obj
        else:
            try:
                after = self.kube.apply(obj, dry_run=self.check_mode)
            except NotFound as exc:
                raise KubernetesError("applying %s: %s" % (ident(obj), exc))
            except KubernetesError as exc:
                raise KubernetesError("applying %s: %s" % (ident(obj), exc))
        before_c, after_c = comparable(current), comparable(after)
        if current is not None and before_c == after_c:
            return result
        result.update({
            "action": "create" if current is None else "update",
            "changed": True,
            "diff": {
                "before_header": ident(obj), "after_header": ident(obj),
                "before": redact(current) if current is not None else {},
                "after": redact(after),
            },
        })
        return result

    def managed(self, queries):
        """For each ``(kind, label_selector)`` query - kind a dict with apiVersion and kind - the live
        objects it matches, one LIST each, side by side; a kind the cluster does not serve has none."""
        def listing(query):
            spec, label_selector = query
            try:
                return self.kube.list(spec["apiVersion"], spec["kind"], label_selector=label_selector)
            except NotFound:
                return []

        if len(queries) < 2:
            return [listing(query) for query in queries]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(queries))) as pool:
            return list(pool.map(listing, queries))

    def orphans(self, kinds, label_selector, desired, listed=None):
        """Live objects of ``kinds`` matching the selector that ``desired`` no longer names.

        ``listed`` is what :meth:`managed` returned for the same kinds and selector, if already read.
        """
        wanted = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in desired}
        found = []
        kinds = list(kinds)
        if listed is None:
            listed = self.managed([(spec, label_selector) for spec in kinds])
        for spec, items in zip(kinds, listed):
            for item in items:
                meta = item["metadata"]
                key = (spec["kind"], meta["name"], meta.get("namespace"))
                if key not in wanted:
                    labels = meta.get("labels") or {}
                    found.append({
                        "apiVersion": spec["apiVersion"], "kind": spec["kind"], "name": meta["name"],
                        "namespace": meta.get("namespace"), "app": labels.get(naming.LABEL_APP),
                        "environment": labels.get(naming.LABEL_ENV),
                    })
        return found

    def delete(self, items):
        """Delete listed objects (check mode: only report). Returns how many existed."""
        count = 0
        for item in items:
            if self.check_mode:
                count += 1
                continue
            if self.kube.delete(item["apiVersion"], item["kind"], item["name"], item.get("namespace")) is not None:
                count += 1
        return count


def summarize(results):
    """(counts by action, diffs): pops each result's diff, which only a diff-mode run returns."""
    summary = {"create": 0, "update": 0, "none": 0}
    diffs = []
    for result in results:
        summary[result["action"]] += 1
        diff = result.pop("diff", None)
        if diff:
            diffs.append(diff)
    return summary, diffs


def _unchanged(current, desired):
    annotations = current.get("metadata", {}).get("annotations") or {}
    marker = desired["metadata"]["annotations"][naming.ANNOTATION_APPLIED]
    return annotations.get(naming.ANNOTATION_APPLIED) == marker and contains(current, desired)


#: The kube_apply module's arguments (see runner.py).
ARGUMENTS = dict(
    argument_spec=kube.argument_spec(
        resources=dict(type="list", elements="dict", required=True),
        workers=dict(type="int", default=8),
        prune_selector=dict(type="str"),
        prune_kinds=dict(type="list", elements="dict", default=[]),
        prune=dict(type="bool", default=False),
    ),
    required_if=[("prune", True, ("prune_selector",))],
)


def run(call):
    """The kube_apply module: converge the resources, report (and with prune delete) removed ones."""
    params = call.params
    try:
        with kube.connect(params, params["workers"]) as client:
            batch = Batch(client, call.check_mode, params["workers"])
            results = batch.converge(params["resources"])
            orphans = []
            if params["prune_selector"] and params["prune_kinds"]:
                orphans = batch.orphans(params["prune_kinds"], params["prune_selector"], params["resources"])
            pruned = batch.delete(orphans) if params["prune"] else 0
    except PlatformError as exc:
        raise PlatformError("Converging %d Kubernetes objects failed: %s" % (len(params["resources"]), exc))
    summary, diffs = summarize(results)
    return dict(changed=bool(diffs) or pruned > 0, resources=results, summary=summary, orphans=orphans,
                pruned=pruned, diff=diffs if call.diff else None)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every manifest the inventory implies, written as files: one per app environment plus the namespaces.

The files hold the objects exactly as the converge applies them (applied-hash annotation included), so
``kubectl diff --server-side -f DIR`` against a converged cluster is empty. Files are replaced
atomically and only when their content changes; files of app environments no longer in the
inventory are reported, never removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.hansenexus.platform.plugins.module_utils import apply, manifests
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError
from ansible_collections.hansenexus.platform.plugins.module_utils.runner import missing_library

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - the module reports it
    HAS_YAML = False

NAMESPACES_FILE = "00-namespaces.yaml"
FILE_MODE = 0o644
DIR_MODE = 0o755


def manifest_yaml(objects):
    """Objects as one multi-document YAML stream, exactly as they are applied (applied-hash included)."""
    return "".join("---\n" + yaml.safe_dump(apply.with_hash(o), default_flow_style=False, sort_keys=False)
                   for o in objects)


def instance_file(inst):
    return "%s--%s.yaml" % (inst["namespace"], inst["name"])


def files(instances, options=None):
    """[(file name, content)]: the namespaces first, then one file per instance."""
    out = [(NAMESPACES_FILE, manifest_yaml(manifests.namespaces(instances)))]
    out += [(instance_file(inst), manifest_yaml(manifests.instance_objects(inst, options))) for inst in instances]
    return out


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write(path, content):
    fd, tmp = tempfile.mkstemp(prefix=".render-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.chmod(tmp, FILE_MODE)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write(dest, rendered, check_mode=False):
    """Write ``rendered`` into ``dest``; returns (per-file results with before/after text, stale file names)."""
    if not os.path.isabs(dest):
        raise ValidationError("dest must be an absolute directory path, got %r" % (dest,))
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ValidationError("dest %s exists and is not a directory" % dest)
    if not check_mode and not os.path.isdir(dest):
        os.makedirs(dest, DIR_MODE)
    results = []
    for name, content in rendered:
        path = os.path.join(dest, name)
        before = _read(path)
        action = "none" if before == content else ("create" if before is None else "update")
        if action != "none" and not check_mode:
            _write(path, content)
        elif action == "none" and not check_mode and (os.stat(path).st_mode & 0o777) != FILE_MODE:
            os.chmod(path, FILE_MODE)
            action = "update"
        results.append({"path": path, "action": action, "changed": action != "none",
                        "before": before or "", "after": content})
    names = {name for name, _content in rendered}
    stale = sorted(n for n in (os.listdir(dest) if os.path.isdir(dest) else [])
                   if n.endswith(".yaml") and n not in names)
    return results, stale


#: The convex_render module's arguments (see runner.py).
ARGUMENTS = dict(argument_spec=dict(
    instances=dict(type="list", elements="dict", required=True),
    options=dict(type="dict", default={}),
    dest=dict(type="path", required=True),
))


def run(call):
    """The convex_render module: write every manifest file of the instances into dest."""
    params = call.params
    if not HAS_YAML:
        raise missing_library("PyYAML")
    try:
        results, stale = write(params["dest"], files(params["instances"], params["options"]), call.check_mode)
    except (PlatformError, OSError) as exc:
        raise PlatformError("Rendering the manifests into %s failed: %s" % (params["dest"], exc))
    diffs = []
    for result in results:   # the texts go to the diff only, never into the result
        before, after = result.pop("before"), result.pop("after")
        if result["changed"]:
            diffs.append({"before_header": result["path"], "after_header": result["path"],
                          "before": before, "after": after})
    changed = [r for r in results if r["changed"]]
    return dict(changed=bool(changed), files=results, stale=stale, diff=diffs if call.diff else None,
                msg="%d of %d files written to %s%s" % (
                    len(changed), len(results), params["dest"],
                    "; not from this inventory (left alone): %s" % ", ".join(stale) if stale else ""))

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host ports of the hub's Compose projects, stable across changes to the inventory's order.

Each project publishes up to four loopback ports: the backend's API (3210 in the container) and
site (3211), the dashboard (6791) and the BasicAuth proxy in front of it (8080). A reverse proxy on
the hub points at them, so they must not move when apps are added, removed or reordered:

* a project that already has a compose file keeps the ports it publishes;
* a new project gets the first free slot ``n`` - API ``base.api + n * step`` and so on - in
  inventory order, so a fresh hub numbers its projects by position;
* ``convex_hub_ports`` pins any of them, and wins.

Two projects asking for one port is refused before anything changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - the filter reports it
    HAS_YAML = False

#: (service, container port) -> the key of the host port published for it.
PUBLISHED = {("backend", 3210): "api", ("backend", 3211): "site", ("dashboard", 6791): "dashboard",
             ("dashboard-auth", 8080): "proxy"}
KEYS = ("api", "site", "dashboard", "proxy")


def _mapping(entry):
    """(host port, container port) of one Compose ``ports`` entry, short or long syntax, or None."""
    if isinstance(entry, dict):
        try:
            return int(entry["published"]), int(entry["target"])
        except (KeyError, TypeError, ValueError):
            return None
    parts = str(entry).split("/", 1)[0].rsplit(":", 2)
    if len(parts) < 2:
        return None
    try:
        return int(parts[-2]), int(parts[-1])
    except ValueError:
        return None


def published_ports(compose_text):
    """{api, site, dashboard, proxy: host port} that a project file publishes (only those it does)."""
    try:
        doc = yaml.safe_load(compose_text) or {}
    except yaml.YAMLError:
        return {}
    found = {}
    services = doc.get("services") if isinstance(doc, dict) else None
    for service, spec in (services or {}).items():
        for entry in (spec or {}).get("ports") or []:
            mapping = _mapping(entry)
            key = PUBLISHED.get((service, mapping[1])) if mapping else None
            if key:
                found[key] = mapping[0]
    return found


def _slot(base, step, proxy_base, n):
    return {"api": base["api"] + n * step, "site": base["site"] + n * step,
            "dashboard": base["dashboard"] + n * step, "proxy": proxy_base + n * step}


def assign_ports(projects, base, step, proxy_base, pinned=None, current=None):
    """({project: {api, site, dashboard, proxy}}, problems) for ``projects`` (names, inventory order).

    ``current`` maps a project to the ports its compose file publishes today (published_ports);
    ``pinned`` maps a project to explicit ports.
    """
    pinned = pinned or {}
    current = current or {}
    base = dict((k, int(v)) for k, v in base.items())
    step, proxy_base = int(step), int(proxy_base)
    ports, used = {}, {}

    def take(project, wanted):
        ports[project] = wanted
        for key in KEYS:
            used.setdefault(wanted[key], []).append((project, key))

    # Pinned and existing projects first: they already own their ports.
    for project in projects:
        if project in pinned or current.get(project):
            have = current.get(project) or {}
            n = (have["api"] - base["api"]) // step if "api" in have and have["api"] >= base["api"] \
                and (have["api"] - base["api"]) % step == 0 else None
            wanted = _slot(base, step, proxy_base, n) if n is not None else dict((k, None) for k in KEYS)
            wanted.update(have)
            wanted.update(dict((k, int(v)) for k, v in (pinned.get(project) or {}).items()))
            if any(wanted[k] is None for k in KEYS):
                ports[project] = wanted   # completed from a free slot below
            else:
                take(project, wanted)
    n = 0
    for project in projects:
        if project in ports and all(ports[project][k] is not None for k in KEYS):
            continue
        while any(p in used for p in _slot(base, step, proxy_base, n).values()):
            n += 1
        wanted = _slot(base, step, proxy_base, n)
        wanted.update(dict((k, v) for k, v in (ports.get(project) or {}).items() if v is not None))
        take(project, wanted)
    problems = []
    for port, owners in sorted(used.items()):
        if len(owners) > 1:
            problems.append("hub projects %s: field 'ports': all ask for host port %d; pin one of them with "
                            "convex_hub_ports" % (" and ".join("%s (%s)" % owner for owner in owners), port))
    return ports, problems

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FAKE Hetzner Cloud API for tests. This is not Hetzner's API.

The real Hetzner Cloud API cannot be reached from the test machines (and a test
must never create billable servers), so the ``hetzner_server`` role is tested
against this stand-in: a small stdlib ``http.server`` on 127.0.0.1 that keeps
its state in memory and implements only the endpoints the hetzner.hcloud
modules used by the role call:

* ``ssh_keys``                       list/get/create/update/delete
* ``firewalls`` (+ actions)          set_rules, apply_to_resources, remove_from_resources
* ``primary_ips`` (+ actions)        change_protection, assign, unassign
* ``volumes`` (+ actions)            attach, detach, resize, change_protection
* ``servers`` (+ actions)            poweron, poweroff, shutdown, reboot, change_protection, rebuild
* ``server_types``, ``images``, ``locations``, ``datacenters`` (read only catalogue)
* ``actions/{id}`` and ``{resource}/actions/{id}``

Responses follow the shapes the hcloud Python library parses (every field its
models read is present). Where the real API is known to enforce something the
fake enforces it too, so a role that would fail against Hetzner fails here:
bearer token, unique names, canonical CIDRs in firewall rules (the real API
returns canonical network notation, e.g. compressed IPv6), primary IP and
volume in the server's datacenter/location, one attachment per volume,
``protected`` errors for delete/rebuild protection, ``auto_delete`` of primary
IPs on server deletion.

Actions finish at once (``status: success``) unless the fake is started
with ``action_polls=N``: then every action is ``running`` for its first N reads
(``GET /actions/{id}`` or ``/{resource}/actions/{id}``) and a server deletion
takes effect only when its action finishes (until then the server is listed
with ``status: deleting``, its name still taken). ``shutdown`` (ACPI) only
sends the request, as on Hetzner: the server's status turns ``off`` once its
OS halts, which the fake models as ``shutdown_reads`` later reads of the
servers API (0: at once; ``None``: the OS ignores ACPI and the server keeps
running until ``poweroff``).

What is simplified: no
prices, no metrics, no networks/load balancers/placement groups, label
selectors support only ``key`` and ``key=value`` terms, anything not
implemented answers ``400 unsupported_error`` so an unexpected call is loud.

Every request under ``/v1`` is recorded (method, path, query, JSON body) so a
test can assert e.g. "check mode sent no POST/PUT/DELETE". The recording and
state are read in-process (``FakeHcloud.requests``/``state``) or over HTTP at
``/__fake__/requests`` and ``/__fake__/state``; ``DELETE /__fake__/requests``
clears the record, ``POST /__fake__/reset`` clears record and state.

Run standalone:  python3 tests/hetzner/fake_hcloud.py --port 8765 --token test
then point ``hetzner_server_api_endpoint`` at http://127.0.0.1:8765/v1.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import ipaddress
import itertools
import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LABEL_VALUE = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?" + LABEL_VALUE
API_PREFIX = "/v1"

# --------------------------------------------------------------------------
# Static catalogue (a small, realistic subset of what Hetzner returns)
# --------------------------------------------------------------------------

LOCATIONS = [
    {"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1", "country": "DE",
     "city": "Falkenstein", "latitude": 50.47612, "longitude": 12.370071, "network_zone": "eu-central"},
    {"id": 2, "name": "nbg1", "description": "Nuremberg DC Park 1", "country": "DE",
     "city": "Nuremberg", "latitude": 49.452102, "longitude": 11.076665, "network_zone": "eu-central"},
    {"id": 3, "name": "hel1", "description": "Helsinki DC Park 1", "country": "FI",
     "city": "Helsinki", "latitude": 60.169855, "longitude": 24.938379, "network_zone": "eu-central"},
]

SERVER_TYPES = [
    # id, name, cores, memory, disk, cpu_type, architecture
    (22, "cx22", 2, 4.0, 40, "shared", "x86"),
    (23, "cx32", 4, 8.0, 80, "shared", "x86"),
    (24, "cx42", 8, 16.0, 160, "shared", "x86"),
    (11, "cpx41", 8, 16.0, 240, "shared", "x86"),
    (12, "cpx51", 16, 32.0, 360, "shared", "x86"),
    (45, "cax31", 8, 16.0, 160, "shared", "arm"),
]

DATACENTERS = [
    {"id": 4, "name": "fsn1-dc14", "description": "Falkenstein 1 virtual DC 14", "location": 1},
    {"id": 2, "name": "nbg1-dc3", "description": "Nuremberg 1 virtual DC 3", "location": 2},
    {"id": 3, "name": "hel1-dc2", "description": "Helsinki 1 virtual DC 2", "location": 3},
]

IMAGES = [
    # id, name, description, os_flavor, os_version, architecture
    (114690387, "debian-12", "Debian 12", "debian", "12", "x86"),
    (114690389, "debian-12", "Debian 12", "debian", "12", "arm"),
    (161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "x86"),
]

# RFC 5737 / RFC 3849 documentation ranges: never routable, never contacted.
DEFAULT_IPV4_POOL = "203.0.113.0/24"
DEFAULT_IPV6_POOL = "2001:db8::/32"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _location(location_id: int) -> dict:
    return copy.deepcopy(next(loc for loc in LOCATIONS if loc["id"] == location_id))


def _server_type(row: tuple) -> dict:
    type_id, name, cores, memory, disk, cpu_type, arch = row
    return {
        "id": type_id, "name": name, "description": name.upper(), "category": "shared_vcpu",
        "cores": cores, "memory": memory, "disk": disk, "prices": [], "storage_type": "local",
        "cpu_type": cpu_type, "architecture": arch, "deprecated": False, "deprecation": None,
        "included_traffic": 21990232555520,
        "locations": [{"id": loc["id"], "name": loc["name"], "deprecation": None} for loc in LOCATIONS],
    }


def _datacenter(row: dict) -> dict:
    type_ids = [t[0] for t in SERVER_TYPES]
    return {
        "id": row["id"], "name": row["name"], "description": row["description"],
        "location": _location(row["location"]),
        "server_types": {"available": type_ids, "supported": type_ids, "available_for_migration": type_ids},
    }


def _image(row: tuple) -> dict:
    image_id, name, description, flavor, version, arch = row
    return {
        "id": image_id, "type": "system", "status": "available", "name": name,
        "description": description, "image_size": None, "disk_size": 5,
        "created": "2023-06-13T06:00:02+00:00", "created_from": None, "bound_to": None,
        "os_flavor": flavor, "os_version": version, "rapid_deploy": True,
        "protection": {"delete": False}, "deprecated": None, "labels": {}, "architecture": arch,
    }


def ssh_fingerprint(public_key: str) -> str:
    """MD5 fingerprint in the colon notation the Hetzner API returns."""
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise ValueError("invalid ssh public key")
    raw = base64.b64decode(parts[1].encode("ascii"), validate=True)
    digest = hashlib.md5(raw).hexdigest()  # noqa: S324 - this is the API's fingerprint format
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class ApiError(Exception):
    """An error answered in the API's ``{"error": {...}}`` shape."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def _not_found(kind: str, ident) -> ApiError:
    return ApiError(404, "not_found", f"{kind} with ID '{ident}' not found")


def _protected(kind: str, what: str) -> ApiError:
    return ApiError(423, "protected", f"cannot {what}: {kind} is protected")


def _invalid(message: str, field: str | None = None) -> ApiError:
    details = {"fields": [{"name": field, "messages": [message]}]} if field else {}
    return ApiError(400, "invalid_input", f"invalid input in field '{field}'" if field else message, details)


# --------------------------------------------------------------------------
# In-memory state and the API operations
# --------------------------------------------------------------------------


class FakeState:
    """All resources of one fake Hetzner project."""

    def __init__(self, ipv4_pool: str = DEFAULT_IPV4_POOL, ipv6_pool: str = DEFAULT_IPV6_POOL,
                 action_polls: int = 0, shutdown_reads: int | None = 0):
        self.action_polls = action_polls
        self.shutdown_reads = shutdown_reads
        # action id -> [reads left while running, callback run when it finishes]
        self._pending: dict[int, list] = {}
        self.ssh_keys: dict[int, dict] = {}
        self.firewalls: dict[int, dict] = {}
        self.primary_ips: dict[int, dict] = {}
        self.volumes: dict[int, dict] = {}
        self.servers: dict[int, dict] = {}
        self.actions: dict[int, dict] = {}
        self._ids = itertools.count(1000)
        self._action_ids = itertools.count(5000)
        hosts = ipaddress.ip_network(ipv4_pool).hosts()
        # keep .1 to .9 free, like a gateway range
        self._ipv4_hosts = itertools.islice(hosts, 9, None)
        self._ipv6_subnets = ipaddress.ip_network(ipv6_pool).subnets(new_prefix=64)
        next(self._ipv6_subnets)

    # -- helpers -----------------------------------------------------------

    def _new_id(self) -> int:
        return next(self._ids)

    def action(self, command: str, resources: list[tuple[str, int]], on_finish=None) -> dict:
        """A new action; with action_polls it runs for that many reads, then on_finish() takes effect."""
        now = _now()
        act = {
            "id": next(self._action_ids), "command": command, "status": "success", "progress": 100,
            "started": now, "finished": now, "error": None,
            "resources": [{"id": rid, "type": rtype} for rtype, rid in resources],
        }
        self.actions[act["id"]] = act
        if self.action_polls > 0:
            act.update(status="running", progress=0, finished=None)
            self._pending[act["id"]] = [self.action_polls, on_finish]
        elif on_finish is not None:
            on_finish()
        return copy.deepcopy(act)

    def read_action(self, action_id: int) -> dict | None:
        """GET of an action: a running action finishes after its reads (then its effect happens)."""
        act = self.actions.get(action_id)
        if act is None:
            return None
        pending = self._pending.get(action_id)
        if pending is not None:
            if pending[0] > 0:
                pending[0] -= 1
            else:
                del self._pending[action_id]
                act.update(status="success", progress=100, finished=_now())
                if pending[1] is not None:
                    pending[1]()
        return copy.deepcopy(act)

    def tick_servers(self) -> None:
        """One read of the servers API: a server whose OS was asked to shut down halts after its reads."""
        for server in self.servers.values():
            if "_halt_in" not in server:
                continue
            if server["_halt_in"] > 0:
                server["_halt_in"] -= 1
            else:
                del server["_halt_in"]
                server["status"] = "off"

    @staticmethod
    def _check_name(name, field: str = "name") -> str:
        if not isinstance(name, str) or not name:
            raise _invalid("name is required", field)
        return name

    @staticmethod
    def _check_labels(labels) -> dict:
        if labels is None:
            return {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise _invalid("labels must be an object of strings", "labels")
        for key, value in labels.items():
            if not re.fullmatch(LABEL_KEY, key):
                raise _invalid(f"invalid label key '{key}'", "labels")
            if value and not re.fullmatch(LABEL_VALUE, value):
                raise _invalid(f"invalid label value '{value}'", "labels")
        return dict(labels)

    @staticmethod
    def _unique(collection: dict, name: str, kind: str, exclude: int | None = None) -> None:
        if any(item["name"] == name and item_id != exclude for item_id, item in collection.items()):
            raise ApiError(409, "uniqueness_error", f"{kind} with the same name already exists",
                           {"fields": [{"name": "name"}]})

    @staticmethod
    def _lookup(collection: dict, ident, kind: str) -> dict:
        """Find by numeric id or by name (the API accepts both where hcloud sends id_or_name)."""
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            item = collection.get(int(ident))
        else:
            item = next((i for i in collection.values() if i["name"] == ident), None)
        if item is None:
            raise _not_found(kind, ident)
        return item

    @staticmethod
    def _catalogue_lookup(rows: list[dict], ident, kind: str) -> dict:
        for row in rows:
            if ident in (row["id"], row["name"]) or str(row["id"]) == str(ident):
                return row
        raise _not_found(kind, ident)

    def datacenter(self, ident) -> dict:
        return _datacenter(self._catalogue_lookup(DATACENTERS, ident, "datacenter"))

    def location(self, ident) -> dict:
        return copy.deepcopy(self._catalogue_lookup(LOCATIONS, ident, "location"))

    def server_type(self, ident) -> dict:
        return self._catalogue_lookup([_server_type(r) for r in SERVER_TYPES], ident, "server_type")

    # -- ssh keys ------------------------------------------------------------

    def create_ssh_key(self, body: dict) -> dict:
        name = self._check_name(body.get("name"))
        public_key = body.get("public_key")
        try:
            fingerprint = ssh_fingerprint(public_key or "")
        except (ValueError, TypeError) as exc:
            raise _invalid("invalid public key", "public_key") from exc
        self._unique(self.ssh_keys, name, "SSH key")
        if any(k["fingerprint"] == fingerprint for k in self.ssh_keys.values()):
            raise ApiError(409, "uniqueness_error", "SSH key with the same fingerprint already exists",
                           {"fields": [{"name": "public_key"}]})
        key = {"id": self._new_id(), "name": name, "fingerprint": fingerprint,
               "public_key": public_key.strip(), "labels": self._check_labels(body.get("labels")),
               "created": _now()}
        self.ssh_keys[key["id"]] = key
        return {"ssh_key": copy.deepcopy(key)}

    def update_ssh_key(self, key_id: int, body: dict) -> dict:
        key = self._lookup(self.ssh_keys, key_id, "ssh_key")
        if "name" in body:
            self._unique(self.ssh_keys, self._check_name(body["name"]), "SSH key", exclude=key["id"])
            key["name"] = body["name"]
        if "labels" in body:
            key["labels"] = self._check_labels(body["labels"])
        return {"ssh_key": copy.deepcopy(key)}

    def delete_ssh_key(self, key_id: int) -> None:
        self._lookup(self.ssh_keys, key_id, "ssh_key")
        del self.ssh_keys[int(key_id)]

    # -- firewalls -----------------------------------------------------------

    @staticmethod
    def _canonical_cidrs(values, field: str) -> list[str]:
        result = []
        for value in values or []:
            try:
                network = ipaddress.ip_network(value, strict=True)
            except (TypeError, ValueError) as exc:
                raise _invalid(f"'{value}' is not a valid CIDR network", field) from exc
            result.append(str(network))
        if len(result) > 100:
            raise _invalid("at most 100 CIDRs", field)
        return result

    def _check_rules(self, rules) -> list[dict]:
        checked = []
        for rule in rules or []:
            direction = rule.get("direction")
            protocol = rule.get("protocol")
            if direction not in ("in", "out"):
                raise _invalid("direction must be in or out", "rules.direction")
            if protocol not in ("tcp", "udp", "icmp", "esp", "gre"):
                raise _invalid("unknown protocol", "rules.protocol")
            port = rule.get("port")
            if protocol in ("tcp", "udp"):
                if not isinstance(port, str) or not re.fullmatch(r"\d{1,5}(-\d{1,5})?", port):
                    raise _invalid("port is required for tcp/udp (e.g. '22' or '80-85')", "rules.port")
                for number in re.findall(r"\d+", port):
                    if not 1 <= int(number) <= 65535:
                        raise _invalid("port out of range", "rules.port")
            elif port is not None:
                raise _invalid("port is only allowed for tcp and udp", "rules.port")
            source_ips = self._canonical_cidrs(rule.get("source_ips"), "rules.source_ips")
            destination_ips = self._canonical_cidrs(rule.get("destination_ips"), "rules.destination_ips")
            if direction == "in" and (not source_ips or destination_ips):
                raise _invalid("inbound rules need source_ips and no destination_ips", "rules.source_ips")
            if direction == "out" and (not destination_ips or source_ips):
                raise _invalid("outbound rules need destination_ips and no source_ips", "rules.destination_ips")
            description = rule.get("description")
            if description is not None and len(description) > 255:
                raise _invalid("description too long", "rules.description")
            checked.append({"direction": direction, "protocol": protocol, "port": port,
                            "source_ips": source_ips, "destination_ips": destination_ips,
                            "description": description})
        return checked

    def _apply_firewall(self, firewall: dict, server: dict) -> dict:
        if any(a["type"] == "server" and a["server"]["id"] == server["id"] for a in firewall["applied_to"]):
            raise ApiError(422, "firewall_already_applied", "firewall is already applied to this server")
        firewall["applied_to"].append({"type": "server", "server": {"id": server["id"]}})
        server["public_net"]["firewalls"].append({"id": firewall["id"], "status": "applied"})
        return self.action("apply_firewall", [("firewall", firewall["id"]), ("server", server["id"])])

    def _remove_firewall(self, firewall: dict, server: dict) -> dict:
        firewall["applied_to"] = [a for a in firewall["applied_to"]
                                  if not (a["type"] == "server" and a["server"]["id"] == server["id"])]
        server["public_net"]["firewalls"] = [f for f in server["public_net"]["firewalls"]
                                             if f["id"] != firewall["id"]]
        return self.action("remove_firewall", [("firewall", firewall["id"]), ("server", server["id"])])

    def create_firewall(self, body: dict) -> dict:
        name = self._check_name(body.get("name"))
        self._unique(self.firewalls, name, "firewall")
        firewall = {"id": self._new_id(), "name": name, "labels": self._check_labels(body.get("labels")),
                    "created": _now(), "rules": self._check_rules(body.get("rules")), "applied_to": []}
        self.firewalls[firewall["id"]] = firewall
        actions = [self.action("set_firewall_rules", [("firewall", firewall["id"])])]
        for resource in body.get("apply_to") or []:
            server = self._lookup(self.servers, resource.get("server", {}).get("id"), "server")
            actions.append(self._apply_firewall(firewall, server))
        return {"firewall": copy.deepcopy(firewall), "actions": actions}

    def update_firewall(self, fw_id: int, body: dict) -> dict:
        firewall = self._lookup(self.firewalls, fw_id, "firewall")
        if "name" in body:
            self._unique(self.firewalls, self._check_name(body["name"]), "firewall", exclude=firewall["id"])
            firewall["name"] = body["name"]
        if "labels" in body:
            firewall["labels"] = self._check_labels(body["labels"])
        return {"firewall": copy.deepcopy(firewall)}

    def delete_firewall(self, fw_id: int) -> None:
        firewall = self._lookup(self.firewalls, fw_id, "firewall")
        if firewall["applied_to"]:
            raise ApiError(422, "resource_in_use", "firewall is still in use")
        del self.firewalls[firewall["id"]]

    def firewall_action(self, fw_id: int, action: str, body: dict) -> dict:
        firewall = self._lookup(self.firewalls, fw_id, "firewall")
        if action == "set_rules":
            firewall["rules"] = self._check_rules(body.get("rules"))
            actions = [self.action("set_firewall_rules", [("firewall", firewall["id"])])]
            actions += [self.action("apply_firewall", [("firewall", firewall["id"]), ("server", a["server"]["id"])])
                        for a in firewall["applied_to"] if a["type"] == "server"]
            return {"actions": actions}
        if action in ("apply_to_resources", "remove_from_resources"):
            key = "apply_to" if action == "apply_to_resources" else "remove_from"
            actions = []
            for resource in body.get(key) or []:
                if resource.get("type") != "server":
                    raise ApiError(400, "unsupported_error", "the fake supports server resources only")
                server = self._lookup(self.servers, resource.get("server", {}).get("id"), "server")
                if action == "apply_to_resources":
                    actions.append(self._apply_firewall(firewall, server))
                else:
                    actions.append(self._remove_firewall(firewall, server))
            return {"actions": actions}
        raise ApiError(400, "unsupported_error", f"firewall action '{action}' is not implemented by the fake")

    # -- primary IPs -----------------------------------------------------------

    def _allocate_ip(self, ip_type: str) -> str:
        if ip_type == "ipv4":
            return str(next(self._ipv4_hosts))
        return str(next(self._ipv6_subnets))

    def _new_primary_ip(self, name: str, ip_type: str, datacenter: dict, auto_delete: bool, labels: dict) -> dict:
        ip = self._allocate_ip(ip_type)
        if ip_type == "ipv4":
            dns_ptr = [{"ip": ip, "dns_ptr": "static." + ".".join(reversed(ip.split("."))) + ".clients.your-server.de"}]
        else:
            dns_ptr = []
        primary_ip = {"id": self._new_id(), "name": name, "type": ip_type, "ip": ip, "dns_ptr": dns_ptr,
                      "datacenter": datacenter, "blocked": False, "protection": {"delete": False},
                      "labels": labels, "created": _now(), "assignee_id": None, "assignee_type": "server",
                      "auto_delete": bool(auto_delete)}
        self.primary_ips[primary_ip["id"]] = primary_ip
        return primary_ip

    def create_primary_ip(self, body: dict) -> dict:
        name = self._check_name(body.get("name"))
        ip_type = body.get("type")
        if ip_type not in ("ipv4", "ipv6"):
            raise _invalid("type must be ipv4 or ipv6", "type")
        if body.get("assignee_type", "server") != "server":
            raise _invalid("assignee_type must be server", "assignee_type")
        self._unique(self.primary_ips, name, "primary IP")
        server = None
        if body.get("assignee_id") is not None:
            server = self._lookup(self.servers, body["assignee_id"], "server")
            datacenter = copy.deepcopy(server["datacenter"])
        elif body.get("datacenter") is not None:
            datacenter = self.datacenter(body["datacenter"])
        else:
            raise _invalid("one of datacenter or assignee_id is required", "datacenter")
        primary_ip = self._new_primary_ip(name, ip_type, datacenter, body.get("auto_delete", False),
                                          self._check_labels(body.get("labels")))
        action = None
        if server is not None:
            action = self._assign_ip(primary_ip, server)
        return {"primary_ip": copy.deepcopy(primary_ip), "action": action}

    def _assign_ip(self, primary_ip: dict, server: dict) -> dict:
        if primary_ip["assignee_id"] is not None:
            raise ApiError(422, "primary_ip_assigned", "primary IP is already assigned")
        if server["status"] != "off":
            # the real API only assigns primary IPs to powered-off servers
            raise ApiError(422, "server_not_stopped", "server must be powered off")
        if primary_ip["datacenter"]["id"] != server["datacenter"]["id"]:
            raise ApiError(422, "primary_ip_datacenter_mismatch", "primary IP is in another datacenter")
        slot = primary_ip["type"]
        if server["public_net"][slot] is not None:
            raise ApiError(422, "server_has_ipv4" if slot == "ipv4" else "server_has_ipv6",
                           f"server already has a primary {slot}")
        self._link_ip(primary_ip, server)
        return self.action("assign_primary_ip", [("primary_ip", primary_ip["id"]), ("server", server["id"])])

    @staticmethod
    def _link_ip(primary_ip: dict, server: dict) -> None:
        primary_ip["assignee_id"] = server["id"]
        primary_ip["assignee_type"] = "server"
        entry = {"id": primary_ip["id"], "ip": primary_ip["ip"], "blocked": False}
        if primary_ip["type"] == "ipv4":
            entry["dns_ptr"] = primary_ip["dns_ptr"][0]["dns_ptr"]
        else:
            entry["dns_ptr"] = []
        server["public_net"][primary_ip["type"]] = entry

    def _unlink_ip(self, primary_ip: dict) -> None:
        server = self.servers.get(primary_ip["assignee_id"])
        if server is not None:
            server["public_net"][primary_ip["type"]] = None
        primary_ip["assignee_id"] = None

    def update_primary_ip(self, ip_id: int, body: dict) -> dict:
        primary_ip = self._lookup(self.primary_ips, ip_id, "primary_ip")
        if "name" in body:
            self._unique(self.primary_ips, self._check_name(body["name"]), "primary IP", exclude=primary_ip["id"])
            primary_ip["name"] = body["name"]
        if "labels" in body:
            primary_ip["labels"] = self._check_labels(body["labels"])
        if "auto_delete" in body:
            primary_ip["auto_delete"] = bool(body["auto_delete"])
        return {"primary_ip": copy.deepcopy(primary_ip)}

    def delete_primary_ip(self, ip_id: int) -> None:
        primary_ip = self._lookup(self.primary_ips, ip_id, "primary_ip")
        if primary_ip["protection"]["delete"]:
            raise _protected("primary IP", "delete")
        if primary_ip["assignee_id"] is not None:
            raise ApiError(422, "must_be_unassigned", "primary IP must be unassigned first")
        del self.primary_ips[primary_ip["id"]]

    def primary_ip_action(self, ip_id: int, action: str, body: dict) -> dict:
        primary_ip = self._lookup(self.primary_ips, ip_id, "primary_ip")
        if action == "change_protection":
            if "delete" in body:
                primary_ip["protection"]["delete"] = bool(body["delete"])
            return {"action": self.action("change_protection", [("primary_ip", primary_ip["id"])])}
        if action == "assign":
            server = self._lookup(self.servers, body.get("assignee_id"), "server")
            return {"action": self._assign_ip(primary_ip, server)}
        if action == "unassign":
            if primary_ip["assignee_id"] is None:
                raise ApiError(422, "not_assigned", "primary IP is not assigned")
            server = self.servers[primary_ip["assignee_id"]]
            if server["status"] != "off":
                raise ApiError(422, "server_not_stopped", "server must be powered off")
            self._unlink_ip(primary_ip)
            return {"action": self.action("unassign_primary_ip", [("primary_ip", primary_ip["id"])])}
        raise ApiError(400, "unsupported_error", f"primary IP action '{action}' is not implemented by the fake")

    # -- volumes -----------------------------------------------------------------

    def create_volume(self, body: dict) -> dict:
        name = self._check_name(body.get("name"))
        size = body.get("size")
        if not isinstance(size, int) or not 10 <= size <= 10240:
            raise _invalid("size must be between 10 and 10240 GB", "size")
        fmt = body.get("format")
        if fmt not in (None, "ext4", "xfs"):
            raise _invalid("format must be ext4 or xfs", "format")
        self._unique(self.volumes, name, "volume")
        server = None
        if body.get("server") is not None:
            server = self._lookup(self.servers, body["server"], "server")
            location = copy.deepcopy(server["datacenter"]["location"])
        elif body.get("location") is not None:
            location = self.location(body["location"])
        else:
            raise _invalid("one of location or server is required", "location")
        volume_id = self._new_id()
        volume = {"id": volume_id, "name": name, "server": None, "location": location, "size": size,
                  "linux_device": f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}", "format": fmt,
                  "protection": {"delete": False}, "labels": self._check_labels(body.get("labels")),
                  "status": "available", "created": _now()}
        self.volumes[volume_id] = volume
        next_actions = []
        if server is not None:
            next_actions.append(self._attach_volume(volume, server))
        return {"volume": copy.deepcopy(volume), "action": self.action("create_volume", [("volume", volume_id)]),
                "next_actions": next_actions}

    def _attach_volume(self, volume: dict, server: dict) -> dict:
        if volume["server"] is not None:
            raise ApiError(422, "volume_already_attached", "volume is already attached to a server")
        if volume["location"]["id"] != server["datacenter"]["location"]["id"]:
            raise ApiError(422, "incompatible_location", "volume and server are in different locations")
        volume["server"] = server["id"]
        server["volumes"].append(volume["id"])
        return self.action("attach_volume", [("volume", volume["id"]), ("server", server["id"])])

    def _detach_volume(self, volume: dict) -> dict:
        server = self.servers.get(volume["server"])
        if server is not None:
            server["volumes"] = [v for v in server["volumes"] if v != volume["id"]]
        volume["server"] = None
        return self.action("detach_volume", [("volume", volume["id"])])

    def update_volume(self, volume_id: int, body: dict) -> dict:
        volume = self._lookup(self.volumes, volume_id, "volume")
        if "name" in body:
            self._unique(self.volumes, self._check_name(body["name"]), "volume", exclude=volume["id"])
            volume["name"] = body["name"]
        if "labels" in body:
            volume["labels"] = self._check_labels(body["labels"])
        return {"volume": copy.deepcopy(volume)}

    def delete_volume(self, volume_id: int) -> None:
        volume = self._lookup(self.volumes, volume_id, "volume")
        if volume["protection"]["delete"]:
            raise _protected("volume", "delete")
        if volume["server"] is not None:
            raise ApiError(422, "volume_attached", "volume must be detached first")
        del self.volumes[volume["id"]]

    def volume_action(self, volume_id: int, action: str, body: dict) -> dict:
        volume = self._lookup(self.volumes, volume_id, "volume")
        if action == "attach":
            server = self._lookup(self.servers, body.get("server"), "server")
            return {"action": self._attach_volume(volume, server)}
        if action == "detach":
            if volume["server"] is None:
                raise ApiError(422, "volume_not_attached", "volume is not attached")
            return {"action": self._detach_volume(volume)}
        if action == "resize":
            size = body.get("size")
            if not isinstance(size, int) or size <= volume["size"]:
                raise _invalid("volumes can only grow", "size")
            volume["size"] = size
            return {"action": self.action("resize_volume", [("volume", volume["id"])])}
        if action == "change_protection":
            if "delete" in body:
                volume["protection"]["delete"] = bool(body["delete"])
            return {"action": self.action("change_protection", [("volume", volume["id"])])}
        raise ApiError(400, "unsupported_error", f"volume action '{action}' is not implemented by the fake")

    # -- servers -------------------------------------------------------------------

    def create_server(self, body: dict) -> dict:
        name = self._check_name(body.get("name"))
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*", name):
            raise _invalid("name must be a valid hostname", "name")
        self._unique(self.servers, name, "server")
        server_type = self.server_type(body.get("server_type"))
        if body.get("datacenter") is not None and body.get("location") is not None:
            raise _invalid("datacenter and location are mutually exclusive", "datacenter")
        if body.get("datacenter") is not None:
            datacenter = self.datacenter(body["datacenter"])
        elif body.get("location") is not None:
            location = self.location(body["location"])
            datacenter = _datacenter(next(d for d in DATACENTERS if d["location"] == location["id"]))
        else:
            datacenter = _datacenter(DATACENTERS[0])
        ident = body.get("image")
        images = [_image(r) for r in IMAGES]
        image = next((i for i in images if (i["name"] == ident or str(i["id"]) == str(ident))
                      and i["architecture"] == server_type["architecture"]), None)
        if image is None:
            raise _not_found("image", ident)

        ssh_keys = [self._lookup(self.ssh_keys, k, "ssh_key") for k in body.get("ssh_keys") or []]
        volumes = [self._lookup(self.volumes, v, "volume") for v in body.get("volumes") or []]
        firewalls = [self._lookup(self.firewalls, f.get("firewall"), "firewall") for f in body.get("firewalls") or []]
        public_net = body.get("public_net") or {}
        enable_ipv4 = public_net.get("enable_ipv4", True)
        enable_ipv6 = public_net.get("enable_ipv6", True)
        primary = {}
        for slot, enabled in (("ipv4", enable_ipv4), ("ipv6", enable_ipv6)):
            if public_net.get(slot) is None:
                continue
            if not enabled:
                raise _invalid(f"{slot} given but enable_{slot} is false", f"public_net.{slot}")
            primary_ip = self._lookup(self.primary_ips, public_net[slot], "primary_ip")
            if primary_ip["type"] != slot:
                raise _invalid(f"primary IP is not of type {slot}", f"public_net.{slot}")
            if primary_ip["assignee_id"] is not None:
                raise ApiError(422, "primary_ip_assigned", f"primary IP {primary_ip['name']} is already assigned")
            if primary_ip["datacenter"]["id"] != datacenter["id"]:
                raise ApiError(422, "primary_ip_datacenter_mismatch",
                               f"primary IP {primary_ip['name']} is in datacenter "
                               f"{primary_ip['datacenter']['name']}, the server in {datacenter['name']}")
            primary[slot] = primary_ip
        for volume in volumes:
            if volume["server"] is not None:
                raise ApiError(422, "volume_already_attached", f"volume {volume['name']} is attached elsewhere")
            if volume["location"]["id"] != datacenter["location"]["id"]:
                raise ApiError(422, "incompatible_location", f"volume {volume['name']} is in another location")

        server_id = self._new_id()
        server = {
            "id": server_id, "name": name, "status": "running", "created": _now(),
            "public_net": {"ipv4": None, "ipv6": None, "floating_ips": [], "firewalls": []},
            "private_net": [], "server_type": server_type, "datacenter": datacenter, "image": image,
            "iso": None, "rescue_enabled": False, "locked": False, "backup_window": None,
            "outgoing_traffic": 0, "ingoing_traffic": 0, "included_traffic": server_type["included_traffic"],
            "protection": {"delete": False, "rebuild": False},
            "labels": self._check_labels(body.get("labels")), "volumes": [],
            "primary_disk_size": server_type["disk"], "placement_group": None, "load_balancers": [],
            # fake-only bookkeeping (not part of the API shape, stripped on output)
            "_ssh_keys": [k["id"] for k in ssh_keys], "_user_data": body.get("user_data"),
        }
        self.servers[server_id] = server
        for slot, enabled in (("ipv4", enable_ipv4), ("ipv6", enable_ipv6)):
            if not enabled:
                continue
            primary_ip = primary.get(slot) or self._new_primary_ip(
                f"primary_ip-{self._new_id()}", slot, copy.deepcopy(datacenter), True, {})
            self._link_ip(primary_ip, server)
        next_actions = []
        if body.get("start_after_create", True) is False:
            server["status"] = "off"
        else:
            next_actions.append(self.action("start_server", [("server", server_id)]))
        for volume in volumes:
            next_actions.append(self._attach_volume(volume, server))
        for firewall in firewalls:
            next_actions.append(self._apply_firewall(firewall, server))
        return {"server": self.public_server(server), "action": self.action("create_server", [("server", server_id)]),
                "next_actions": next_actions, "root_password": None if ssh_keys else "fake-root-password"}

    @staticmethod
    def public_server(server: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in server.items() if not k.startswith("_")}

    def update_server(self, server_id: int, body: dict) -> dict:
        server = self._lookup(self.servers, server_id, "server")
        if "name" in body:
            self._unique(self.servers, self._check_name(body["name"]), "server", exclude=server["id"])
            server["name"] = body["name"]
        if "labels" in body:
            server["labels"] = self._check_labels(body["labels"])
        return {"server": self.public_server(server)}

    def delete_server(self, server_id: int) -> dict:
        server = self._lookup(self.servers, server_id, "server")
        if server["protection"]["delete"]:
            raise _protected("server", "delete")
        if server["status"] == "deleting":
            raise ApiError(423, "locked", "server is locked by a running delete action")
        server["status"] = "deleting"
        server.pop("_halt_in", None)
        return {"action": self.action("delete_server", [("server", server["id"])],
                                      on_finish=lambda: self.remove_server(server))}

    def remove_server(self, server: dict) -> None:
        """Delete a server like the API does: detach volumes, free primary IPs, drop firewall links."""
        for volume in self.volumes.values():
            if volume["server"] == server["id"]:
                volume["server"] = None
        for primary_ip in list(self.primary_ips.values()):
            if primary_ip["assignee_id"] == server["id"]:
                primary_ip["assignee_id"] = None
                if primary_ip["auto_delete"]:
                    del self.primary_ips[primary_ip["id"]]
        for firewall in self.firewalls.values():
            firewall["applied_to"] = [a for a in firewall["applied_to"]
                                      if not (a["type"] == "server" and a["server"]["id"] == server["id"])]
        del self.servers[server["id"]]

    def server_action(self, server_id: int, action: str, body: dict) -> dict:
        server = self._lookup(self.servers, server_id, "server")
        ref = [("server", server["id"])]
        if action == "poweron":
            server["status"] = "running"
            return {"action": self.action("start_server", ref)}
        if action == "poweroff":
            server["status"] = "off"
            server.pop("_halt_in", None)
            return {"action": self.action("stop_server", ref)}
        if action == "shutdown":
            # ACPI request only: the status turns off when the OS halts (or never, if it ignores ACPI)
            if server["status"] == "running" and self.shutdown_reads is not None and "_halt_in" not in server:
                if self.shutdown_reads == 0:
                    server["status"] = "off"
                else:
                    server["_halt_in"] = self.shutdown_reads
            return {"action": self.action("shutdown_server", ref)}
        if action in ("reboot", "reset"):
            return {"action": self.action(f"{action}_server", ref)}
        if action == "change_protection":
            for key in ("delete", "rebuild"):
                if key in body:
                    server["protection"][key] = bool(body[key])
            return {"action": self.action("change_protection", ref)}
        if action == "rebuild":
            if server["protection"]["rebuild"]:
                raise _protected("server", "rebuild")
            images = [_image(r) for r in IMAGES]
            image = next((i for i in images if body.get("image") in (i["name"], i["id"], str(i["id"]))
                          and i["architecture"] == server["server_type"]["architecture"]), None)
            if image is None:
                raise _not_found("image", body.get("image"))
            server["image"] = image
            return {"action": self.action("rebuild_server", ref), "root_password": None}
        raise ApiError(400, "unsupported_error", f"server action '{action}' is not implemented by the fake")

    # -- reads -------------------------------------------------------------------

    def snapshot(self) -> dict:
        return {
            "ssh_keys": copy.deepcopy(list(self.ssh_keys.values())),
            "firewalls": copy.deepcopy(list(self.firewalls.values())),
            "primary_ips": copy.deepcopy(list(self.primary_ips.values())),
            "volumes": copy.deepcopy(list(self.volumes.values())),
            "servers": [self.public_server(s) | {"ssh_keys": list(s["_ssh_keys"])} for s in self.servers.values()],
        }


def _match_labels(labels: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _paginate(key: str, items: list[dict], query: dict) -> dict:
    page = int(query.get("page", ["1"])[0])
    per_page = min(int(query.get("per_page", ["25"])[0]), 50)
    total = len(items)
    last_page = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    return {
        key: items[start:start + per_page],
        "meta": {"pagination": {"page": page, "per_page": per_page,
                                "previous_page": page - 1 if page > 1 else None,
                                "next_page": page + 1 if page < last_page else None,
                                "last_page": last_page, "total_entries": total}},
    }


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------


class FakeHcloud:
    """The fake API server: start() on a loopback port, read .requests / .state, stop()."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0,
                 ipv4_pool: str = DEFAULT_IPV4_POOL, ipv6_pool: str = DEFAULT_IPV6_POOL,
                 action_polls: int = 0, shutdown_reads: int | None = 0):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the fake listens on loopback only")
        self.token = token
        self.ipv4_pool = ipv4_pool
        self.ipv6_pool = ipv6_pool
        self.action_polls = action_polls
        self.shutdown_reads = shutdown_reads
        self.lock = threading.RLock()
        self.state = FakeState(ipv4_pool, ipv6_pool, action_polls, shutdown_reads)
        self.requests: list[dict] = []
        fake = self

        class Handler(_Handler):
            api = fake

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self) -> "FakeHcloud":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-hcloud", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = FakeState(self.ipv4_pool, self.ipv6_pool, self.action_polls, self.shutdown_reads)
            self.requests.clear()

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def mutating_requests(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["method"] in MUTATING_METHODS]

    def snapshot(self) -> dict:
        with self.lock:
            return self.state.snapshot()

    # -- routing -----------------------------------------------------------------

    def dispatch(self, method: str, path: str, query: dict, body: dict):  # noqa: C901 - a flat router reads best
        st = self.state
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise _not_found("endpoint", path)
        resource, rest = parts[0], parts[1:]

        # generic action lookups: /actions/{id} and /{resource}/actions/{id}
        if resource == "actions" and len(rest) == 1 and method == "GET":
            action = st.read_action(int(rest[0])) if rest[0].isdigit() else None
            if action is None:
                raise _not_found("action", rest[0])
            return 200, {"action": action}
        if len(rest) == 2 and rest[0] == "actions" and rest[1].isdigit() and method == "GET":
            action = st.read_action(int(rest[1]))
            if action is None:
                raise _not_found("action", rest[1])
            return 200, {"action": action}

        catalogue = {
            "locations": ([copy.deepcopy(loc) for loc in LOCATIONS], "location"),
            "datacenters": ([_datacenter(d) for d in DATACENTERS], "datacenter"),
            "server_types": ([_server_type(t) for t in SERVER_TYPES], "server_type"),
            "images": ([_image(i) for i in IMAGES], "image"),
        }
        if resource in catalogue:
            items, single = catalogue[resource]
            if method != "GET":
                raise ApiError(405, "method_not_allowed", "read-only resource")
            if rest:
                if len(rest) != 1:
                    raise _not_found(single, "/".join(rest))
                item = next((i for i in items if str(i["id"]) == rest[0]), None)
                if item is None:
                    raise _not_found(single, rest[0])
                return 200, {single: item}
            if "name" in query:
                items = [i for i in items if i["name"] == query["name"][0]]
            if resource == "images":
                if "architecture" in query:
                    items = [i for i in items if i["architecture"] in query["architecture"]]
                if "type" in query:
                    items = [i for i in items if i["type"] in query["type"]]
            return 200, _paginate(resource, items, query)

        mutable = {
            "ssh_keys": (st.ssh_keys, "ssh_key"),
            "firewalls": (st.firewalls, "firewall"),
            "primary_ips": (st.primary_ips, "primary_ip"),
            "volumes": (st.volumes, "volume"),
            "servers": (st.servers, "server"),
        }
        if resource not in mutable:
            raise ApiError(400, "unsupported_error", f"'{resource}' is not implemented by the fake")
        collection, single = mutable[resource]
        render = st.public_server if resource == "servers" else copy.deepcopy
        if resource == "servers" and method == "GET":
            st.tick_servers()

        if not rest:
            if method == "GET":
                items = [render(i) for i in collection.values()]
                for field in ("name", "fingerprint", "ip", "status"):
                    if field in query:
                        items = [i for i in items if str(i.get(field)) in query[field]]
                if "label_selector" in query:
                    items = [i for i in items if _match_labels(i["labels"], query["label_selector"][0])]
                items.sort(key=lambda i: i["id"])
                return 200, _paginate(resource, items, query)
            if method == "POST":
                creator = getattr(st, f"create_{single}")
                return 201, creator(body)
            raise ApiError(405, "method_not_allowed", f"{method} not allowed on /{resource}")

        if not rest[0].isdigit():
            raise _not_found(single, rest[0])
        item_id = int(rest[0])
        if len(rest) == 1:
            if method == "GET":
                item = collection.get(item_id)
                if item is None:
                    raise _not_found(single, item_id)
                return 200, {single: render(item)}
            if method == "PUT":
                return 200, getattr(st, f"update_{single}")(item_id, body)
            if method == "DELETE":
                result = getattr(st, f"delete_{single}")(item_id)
                return (200, result) if result else (204, None)
            raise ApiError(405, "method_not_allowed", f"{method} not allowed")
        if len(rest) == 3 and rest[1] == "actions" and method == "POST":
            handler = getattr(st, f"{single}_action", None)
            if handler is None:
                raise ApiError(400, "unsupported_error", f"{resource} actions are not implemented by the fake")
            return 201, handler(item_id, rest[2], body)
        raise ApiError(400, "unsupported_error", f"{method} {path} is not implemented by the fake")


class _Handler(BaseHTTPRequestHandler):
    api: FakeHcloud
    server_version = "fake-hcloud/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        return  # quiet: tests read the request record instead

    def _send(self, status: int, payload) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Correlation-Id", "fake-hcloud")
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""

        if url.path.startswith("/__fake__/"):
            self._control(url.path)
            return
        if not url.path.startswith(API_PREFIX + "/"):
            self._send(404, {"error": {"code": "not_found", "message": "unknown path", "details": {}}})
            return
        path = url.path[len(API_PREFIX):]
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        with self.api.lock:
            self.api.requests.append({"method": self.command, "path": path, "query": query,
                                      "body": body, "authorized": self._authorized()})
            try:
                if body is None:
                    raise ApiError(400, "json_error", "malformed JSON body")
                if not self._authorized():
                    raise ApiError(401, "unauthorized", "unable to authenticate")
                status, payload = self.api.dispatch(self.command, path, query, body)
            except ApiError as err:
                status, payload = err.status, {"error": {"code": err.code, "message": err.message,
                                                         "details": err.details}}
        self._send(status, payload)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.api.token}"

    def _control(self, path: str) -> None:
        if path == "/__fake__/requests" and self.command == "GET":
            with self.api.lock:
                self._send(200, {"requests": copy.deepcopy(self.api.requests)})
        elif path == "/__fake__/requests" and self.command == "DELETE":
            self.api.clear_requests()
            self._send(204, None)
        elif path == "/__fake__/state" and self.command == "GET":
            self._send(200, self.api.snapshot())
        elif path == "/__fake__/reset" and self.command == "POST":
            self.api.reset()
            self._send(204, None)
        else:
            self._send(404, {"error": {"code": "not_found", "message": "unknown control path", "details": {}}})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", required=True, help="the bearer token the fake accepts")
    parser.add_argument("--ipv4-pool", default=DEFAULT_IPV4_POOL)
    parser.add_argument("--action-polls", type=int, default=0, help="reads an action stays running")
    args = parser.parse_args()
    fake = FakeHcloud(args.token, port=args.port, ipv4_pool=args.ipv4_pool, action_polls=args.action_polls)
    print(f"FAKE Hetzner Cloud API listening on {fake.endpoint}", flush=True)
    try:
        fake.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.httpd.server_close()


if __name__ == "__main__":
    main()

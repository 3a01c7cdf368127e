# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hetzner_server role, run by the real ansible-playbook against a FAKE Hetzner Cloud API.

Real: ansible-playbook, the role, the hetzner.hcloud modules and the hcloud
library they vendor (every HTTP request they make is real). Fake: the Hetzner
Cloud API itself (fake_hcloud.py, in-memory, loopback only) and, in the SSH
test, sshd (a loopback socket that sends an OpenSSH banner).

Nothing here is skipped: a missing ansible-playbook or library fails the test.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from fake_hcloud import MUTATING_METHODS, FakeHcloud  # noqa: E402

PLAYBOOK = os.path.join(HERE, "converge.yml")
INVENTORY = os.path.join(HERE, "inventory.yml")
# Looks like a real token (64 chars) and is unique, so a leak is easy to find.
TOKEN = "fakeHcloudToken" + secrets.token_hex(24) + "z"
ADMIN_RANGES = ["198.51.100.0/24", "2001:db8:1::/48"]
WORLD = ["0.0.0.0/0", "::/0"]
SERVER = "hn-k3s-test"
TIMINGS: dict[str, float] = {}


def _ssh_public_key() -> str:
    """An ed25519 public key line (random key material; only its format matters to the API)."""
    blob = b""
    for part in (b"ssh-ed25519", secrets.token_bytes(32)):
        blob += struct.pack(">I", len(part)) + part
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " admin@hansenexus.test"


PUBKEY = _ssh_public_key()


def _ansible_playbook() -> str:
    candidates = [
        os.environ.get("ANSIBLE_PLAYBOOK"),
        os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
        shutil.which("ansible-playbook"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("ansible-playbook not found next to the test's Python nor on PATH; install requirements.txt")


def test_toolchain_is_installed():
    """The role needs these on the controller; say so plainly instead of failing somewhere later."""
    playbook = _ansible_playbook()
    with open(playbook, encoding="utf-8") as handle:
        shebang = handle.readline()[2:].split()
    interpreter = shutil.which(shebang[1]) if os.path.basename(shebang[0]) == "env" else shebang[0]
    probe = subprocess.run(
        [interpreter, "-c", "import netaddr, requests, dateutil, ansible_collections.hetzner.hcloud, "
                            "ansible_collections.ansible.utils, ansible_collections.ansible.posix"],
        capture_output=True, text=True, check=False)
    assert probe.returncode == 0, f"controller Python {interpreter} lacks a requirement:\n{probe.stderr}"


def base_vars(fake: FakeHcloud) -> dict:
    return {
        "hetzner_server_api_endpoint": fake.endpoint,
        "hetzner_server_name": SERVER,
        "hetzner_server_admin_ranges": list(ADMIN_RANGES),
        "hetzner_server_ssh_public_key": PUBKEY,
        "hetzner_server_volume_size": 20,
        "hetzner_server_labels": {"env": "test"},
        "hetzner_server_wait_for_ssh": False,
    }


class Run:
    """One ansible-playbook run: exit code, output, parsed JSON, requests the fake saw."""

    def __init__(self, proc: subprocess.CompletedProcess, requests: list[dict], duration: float, json_output: bool):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.requests = requests
        self.duration = duration
        self.json = None
        if json_output:
            try:
                self.json = json.loads(self.stdout)
            except ValueError as exc:
                raise AssertionError(f"ansible-playbook did not print JSON:\n{self.stdout}\n{self.stderr}") from exc

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def mutating(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.requests if r["method"] in MUTATING_METHODS]

    def stats(self, host: str = "localhost") -> dict:
        if self.json is not None:
            return self.json["stats"][host]
        match = re.search(rf"^{re.escape(host)}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                          self.stdout, re.M)
        assert match, f"no PLAY RECAP line for {host}:\n{self.stdout[-3000:]}"
        ok, changed, unreachable, failed = map(int, match.groups())
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failures": failed}

    def task(self, name: str, host: str = "localhost") -> dict:
        assert self.json is not None
        for play in self.json["plays"]:
            for task in play["tasks"]:
                if task["task"]["name"].endswith(name) and host in task["hosts"]:
                    return task["hosts"][host]
        raise AssertionError(f"task '{name}' did not run on {host}")

    def failure_messages(self) -> str:
        """All msg strings of failed results, loop items included."""
        assert self.json is not None, self.output
        messages = []

        def collect(result: dict) -> None:
            if result.get("failed"):
                messages.append(str(result.get("msg", "")))
            for item in result.get("results", []) or []:
                if isinstance(item, dict):
                    collect(item)

        for play in self.json["plays"]:
            for task in play["tasks"]:
                for result in task["hosts"].values():
                    collect(result)
        return "\n".join(messages)

    def handed_over(self) -> dict:
        """The host variables the k3s_node play received (debug msg of converge.yml's second play)."""
        return self.task("Report the host variables handed over by hetzner_server", host=SERVER)["msg"]


def playbook_env(tmp_path, json_output: bool = True) -> dict:
    """The environment of one ansible-playbook run: this checkout's config, no HCLOUD_* from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HCLOUD_")}
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json" if json_output else "default",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "PYTHONWARNINGS": "ignore",
    })
    return env


def run_playbook(fake: FakeHcloud, tmp_path, label: str, extra_vars: dict, *, check: bool = False,
                 token: str | None = "env", verbosity: int = 0, json_output: bool = True,
                 tags: str | None = None) -> Run:
    """Run converge.yml with the real ansible-playbook. token: 'env' (HCLOUD_TOKEN), 'var', None or a literal."""
    env = playbook_env(tmp_path, json_output)
    variables = dict(extra_vars)
    if token == "env":
        env["HCLOUD_TOKEN"] = TOKEN
    elif token == "var":
        variables["hetzner_server_api_token"] = TOKEN
    elif token is not None:
        variables["hetzner_server_api_token"] = token
    vars_file = tmp_path / f"vars-{label}.json"
    vars_file.write_text(json.dumps(variables))
    cmd = [_ansible_playbook(), "-i", INVENTORY, PLAYBOOK, "-e", f"@{vars_file}"]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if tags:
        cmd += ["--tags", tags]
    fake.clear_requests()
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    duration = time.monotonic() - started
    TIMINGS[label] = duration
    with fake.lock:
        requests = [dict(r) for r in fake.requests]
    return Run(proc, requests, duration, json_output)


def api(fake: FakeHcloud, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """Call the fake API like an operator (or playbooks/rebuild.yml) would."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(fake.endpoint + path, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback fake
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def the_one(items: list[dict], what: str) -> dict:
    assert len(items) == 1, f"expected exactly one {what}, got {items}"
    return items[0]


# --------------------------------------------------------------------------
# Lifecycle: check mode, converge, converge again, check mode again, rebuild
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hetzner-lifecycle")
    fake = FakeHcloud(TOKEN).start()
    try:
        variables = base_vars(fake)
        runs: dict = {"fake": fake}
        runs["check"] = run_playbook(fake, tmp_path, "check-mode (empty project)", variables, check=True)
        runs["state_after_check"] = fake.snapshot()
        runs["converge"] = run_playbook(fake, tmp_path, "converge (token as variable)", variables, token="var")
        runs["state"] = fake.snapshot()
        runs["idempotence"] = run_playbook(fake, tmp_path, "converge again (idempotence)", variables)
        runs["check_converged"] = run_playbook(fake, tmp_path, "check-mode on converged state, -vvvv",
                                               variables, check=True, verbosity=4, json_output=False)

        # Rebuild, as playbooks/rebuild.yml would: everything protected is refused,
        # then the server's protection is lifted and only the server is deleted.
        state = runs["state"]
        server = the_one(state["servers"], "server")
        ipv4 = the_one([p for p in state["primary_ips"] if p["type"] == "ipv4"], "primary IPv4")
        volume = the_one(state["volumes"], "volume")
        runs["protected"] = {
            "server": api(fake, "DELETE", f"/servers/{server['id']}"),
            "primary_ip": api(fake, "DELETE", f"/primary_ips/{ipv4['id']}"),
            "volume": api(fake, "DELETE", f"/volumes/{volume['id']}"),
            "rebuild": api(fake, "POST", f"/servers/{server['id']}/actions/rebuild", {"image": "debian-12"}),
        }
        assert api(fake, "POST", f"/servers/{server['id']}/actions/change_protection",
                   {"delete": False, "rebuild": False})[0] == 201
        assert api(fake, "DELETE", f"/servers/{server['id']}")[0] == 200
        runs["state_without_server"] = fake.snapshot()
        runs["rebuild"] = run_playbook(fake, tmp_path, "converge after the server was deleted (rebuild)", variables)
        runs["state_after_rebuild"] = fake.snapshot()
        yield runs
    finally:
        fake.stop()
        print("\nhetzner_server test timings: " + ", ".join(f"{k}: {v:.1f}s" for k, v in TIMINGS.items()))


def test_check_mode_first_reports_changes_and_mutates_nothing(lifecycle):
    run = lifecycle["check"]
    assert run.rc == 0, run.output
    assert run.requests, "check mode must still read the API"
    assert run.mutating == [], f"check mode sent mutating requests: {run.mutating}"
    assert run.stats()["changed"] >= 5, run.stats()
    for task in ("Ensure the admin SSH key is registered",
                 "Ensure the firewall allows SSH from the admin ranges and HTTP(S) from everywhere",
                 "Ensure the primary IPv4 exists and outlives the server",
                 "Ensure the data volume exists and outlives the server",
                 "Ensure the server exists with its primary IPv4, firewall, SSH key and data volume"):
        assert run.task(task).get("changed") is True, f"check mode did not predict a change for: {task}"
    assert all(not items for items in lifecycle["state_after_check"].values()), lifecycle["state_after_check"]
    assert "k3s_node" not in json.dumps(run.json["plays"][1]["tasks"]), "no host to hand over in check mode"


def test_converge_creates_server_ip_volume_key_with_protection(lifecycle):
    run = lifecycle["converge"]
    assert run.rc == 0, run.output
    assert run.stats()["changed"] >= 5
    state = lifecycle["state"]
    key = the_one(state["ssh_keys"], "SSH key")
    ipv4 = the_one([p for p in state["primary_ips"] if p["type"] == "ipv4"], "primary IPv4")
    volume = the_one(state["volumes"], "volume")
    server = the_one(state["servers"], "server")
    firewall = the_one(state["firewalls"], "firewall")

    assert key["name"] == f"{SERVER}-admin" and key["public_key"] == PUBKEY

    assert ipv4["name"] == f"{SERVER}-ipv4"
    assert ipv4["auto_delete"] is False, "the primary IPv4 must survive the server"
    assert ipv4["protection"] == {"delete": True}
    assert ipv4["datacenter"]["name"] == "fsn1-dc14"
    assert ipv4["assignee_id"] == server["id"]

    assert volume["name"] == f"{SERVER}-data"
    assert volume["size"] == 20
    assert volume["format"] == "ext4"
    assert volume["protection"] == {"delete": True}
    assert volume["location"]["name"] == "fsn1"
    assert volume["server"] == server["id"]
    volume_posts = [r["body"] for r in run.requests if r["method"] == "POST" and r["path"] == "/volumes"]
    assert the_one(volume_posts, "volume create request")["automount"] is False

    assert server["name"] == SERVER
    assert server["server_type"]["name"] == "cpx41"
    assert server["image"]["name"] == "debian-12"
    assert server["datacenter"]["name"] == "fsn1-dc14"
    assert server["status"] == "running"
    assert server["protection"] == {"delete": True, "rebuild": True}
    assert server["public_net"]["ipv4"]["id"] == ipv4["id"], "primary IPv4 attached at creation"
    assert [f["id"] for f in server["public_net"]["firewalls"]] == [firewall["id"]]
    assert server["volumes"] == [volume["id"]]
    assert server["ssh_keys"] == [key["id"]]
    server_post = the_one([r["body"] for r in run.requests if r["method"] == "POST" and r["path"] == "/servers"],
                          "server create request")
    assert server_post["public_net"]["ipv4"] == ipv4["id"]
    assert server_post["firewalls"] == [{"firewall": firewall["id"]}]
    assert server_post["volumes"] == [volume["id"]]

    for resource in (key, ipv4, volume, server, firewall):
        assert resource["labels"] == {"managed-by": "hansenexus-platform", "node": SERVER, "env": "test"}

    handed = run.handed_over()
    assert handed["groups"] == ["k3s_node"]
    assert handed["ansible_host"] == ipv4["ip"] == handed["hetzner_server_public_ipv4"]
    assert int(handed["ansible_port"]) == 22 and handed["ansible_user"] == "root"
    assert int(handed["hetzner_server_id"]) == server["id"]
    assert int(handed["hetzner_server_data_volume_id"]) == volume["id"]
    assert handed["hetzner_server_data_volume_linux_device"] == volume["linux_device"]


def test_firewall_opens_ssh_to_admins_web_to_all_and_never_the_kube_api(lifecycle):
    firewall = the_one(lifecycle["state"]["firewalls"], "firewall")
    rules = firewall["rules"]
    assert all(r["direction"] == "in" for r in rules)
    by_port = {r["port"]: r for r in rules if r["protocol"] == "tcp"}
    assert set(by_port) == {"22", "80", "443"}, rules
    assert by_port["22"]["source_ips"] == ADMIN_RANGES
    assert by_port["80"]["source_ips"] == WORLD and by_port["443"]["source_ips"] == WORLD
    for rule in rules:
        if rule["protocol"] in ("tcp", "udp"):
            low, _sep, high = rule["port"].partition("-")
            assert not int(low) <= 6443 <= int(high or low), f"6443 reachable: {rule}"
        if rule["port"] != "22":
            assert not set(rule["source_ips"]) & set(ADMIN_RANGES), f"admin-only range in a public rule: {rule}"
    assert [r["protocol"] for r in rules if r["port"] is None] == ["icmp"]


def test_second_converge_changes_nothing(lifecycle):
    run = lifecycle["idempotence"]
    assert run.rc == 0, run.output
    assert run.stats()["changed"] == 0, run.stats()
    assert run.stats(SERVER)["changed"] == 0
    assert run.requests, "the second run must still compare against the API"
    assert run.mutating == [], f"second converge sent mutating requests: {run.mutating}"
    assert run.handed_over()["ansible_host"] == lifecycle["converge"].handed_over()["ansible_host"]


def test_check_mode_on_converged_state_is_quiet_and_mutates_nothing(lifecycle):
    run = lifecycle["check_converged"]
    assert run.rc == 0, run.output
    assert run.stats()["changed"] == 0, run.stats()
    assert run.mutating == [], run.mutating


def test_token_is_sent_but_never_printed(lifecycle):
    fake = lifecycle["fake"]
    for key in ("check", "converge", "idempotence", "check_converged", "rebuild"):
        run = lifecycle[key]
        assert TOKEN not in run.output, f"API token printed in the {key} run"
        assert run.requests and all(r["authorized"] for r in run.requests), f"{key}: token not sent"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in lifecycle["check_converged"].output, \
        "-vvvv output should show the masked api_token"
    assert fake.token == TOKEN


def test_everything_that_must_outlive_the_server_is_protected(lifecycle):
    protected = lifecycle["protected"]
    for what in ("server", "primary_ip", "volume", "rebuild"):
        status, body = protected[what]
        assert status == 423 and body["error"]["code"] == "protected", (what, status, body)


def test_rebuild_reuses_the_primary_ip_and_the_data_volume(lifecycle):
    before = lifecycle["state"]
    between = lifecycle["state_without_server"]
    after = lifecycle["state_after_rebuild"]
    run = lifecycle["rebuild"]
    assert run.rc == 0, run.output
    assert between["servers"] == []
    old_server = the_one(before["servers"], "server")
    new_server = the_one(after["servers"], "server")
    assert new_server["id"] != old_server["id"]
    ipv4_before = the_one([p for p in before["primary_ips"] if p["type"] == "ipv4"], "primary IPv4")
    ipv4_after = the_one([p for p in after["primary_ips"] if p["type"] == "ipv4"], "primary IPv4")
    assert (ipv4_after["id"], ipv4_after["ip"]) == (ipv4_before["id"], ipv4_before["ip"])
    assert ipv4_after["assignee_id"] == new_server["id"]
    volume_before = the_one(before["volumes"], "volume")
    volume_after = the_one(after["volumes"], "volume")
    assert volume_after["id"] == volume_before["id"] and volume_after["server"] == new_server["id"]
    firewall = the_one(after["firewalls"], "firewall")
    assert firewall["applied_to"] == [{"type": "server", "server": {"id": new_server["id"]}}]
    assert new_server["protection"] == {"delete": True, "rebuild": True}
    created = [path for method, path in run.mutating if method == "POST" and path in
               ("/ssh_keys", "/firewalls", "/primary_ips", "/volumes")]
    assert created == [], f"rebuild must not recreate kept resources: {created}"
    assert run.handed_over()["ansible_host"] == ipv4_before["ip"]


# --------------------------------------------------------------------------
# Failures: clear messages, and before any API request where it is local
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quiet_fake():
    fake = FakeHcloud(TOKEN).start()
    yield fake
    fake.stop()


def test_missing_token_fails_early_with_a_clear_message(quiet_fake, tmp_path):
    run = run_playbook(quiet_fake, tmp_path, "missing token", base_vars(quiet_fake), token=None)
    assert run.rc != 0
    assert "no Hetzner Cloud API token" in run.failure_messages()
    assert "HCLOUD_TOKEN" in run.failure_messages()
    assert run.requests == [], "the role talked to the API without a token"


def test_wrong_token_fails_with_the_api_error_and_is_not_printed(quiet_fake, tmp_path):
    wrong = "wrongToken" + secrets.token_hex(27)
    run = run_playbook(quiet_fake, tmp_path, "wrong token", base_vars(quiet_fake), token=wrong)
    assert run.rc != 0
    assert "unable to authenticate" in run.failure_messages()
    assert wrong not in run.output
    assert run.mutating == []


BAD_INPUT = {
    "admin-ranges-empty": ({"hetzner_server_admin_ranges": []}, "hetzner_server_admin_ranges is empty"),
    "admin-range-ipv4-world": ({"hetzner_server_admin_ranges": ["0.0.0.0/0"]}, "is the whole internet"),
    "admin-range-ipv6-world": ({"hetzner_server_admin_ranges": ["2001:db8::/48", "::/0"]}, "is the whole internet"),
    "admin-range-invalid-cidr": ({"hetzner_server_admin_ranges": ["10.0.0.300/8"]}, "not a CIDR network"),
    "admin-range-host-bits": ({"hetzner_server_admin_ranges": ["10.0.0.1/8"]}, "(write '10.0.0.0/8')"),
    "admin-range-no-prefix": ({"hetzner_server_admin_ranges": ["198.51.100.7"]}, "not a CIDR network"),
    "admin-range-ipv6-not-canonical": ({"hetzner_server_admin_ranges": ["2001:DB8:0:0::/48"]},
                                       "(write '2001:db8::/48')"),
    "kube-api-open-to-ipv4-world": (
        {"hetzner_server_firewall_extra_rules": [
            {"description": "kubectl", "protocol": "tcp", "port": "6443", "source_ips": ["0.0.0.0/0"]}]},
        "never public"),
    "kube-api-in-range-open-to-ipv6-world": (
        {"hetzner_server_firewall_extra_rules": [
            {"description": "wide", "protocol": "tcp", "port": "6000-7000", "source_ips": ["::/0"]}]},
        "never public"),
    "ssh-open-to-world-by-extra-rule": (
        {"hetzner_server_firewall_extra_rules": [
            {"description": "ssh", "protocol": "tcp", "port": "22", "source_ips": ["0.0.0.0/0", "::/0"]}]},
        "never public"),
    "kube-api-as-public-rule": (
        {"hetzner_server_firewall_public_rules": [
            {"description": "HTTPS", "port": "443"}, {"description": "Kubernetes API", "port": "6443"}]},
        "must not include the Kubernetes API"),
    "extra-rule-bad-cidr": (
        {"hetzner_server_firewall_extra_rules": [
            {"description": "metrics", "protocol": "tcp", "port": "9100", "source_ips": ["198.51.100.0/33"]}]},
        "canonical notation"),
    "extra-rule-unknown-key": (
        {"hetzner_server_firewall_extra_rules": [
            {"description": "kubectl", "protocol": "tcp", "port": "6443", "source": ["198.51.100.0/24"]}]},
        "hetzner_server_firewall_extra_rules"),
    "server-name-not-dns-safe": ({"hetzner_server_name": "Bad_Name"}, "is not DNS-safe"),
    "ssh-public-key-missing": ({"hetzner_server_ssh_public_key": ""}, "must be one OpenSSH public key line"),
    "ssh-public-key-private": ({"hetzner_server_ssh_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"},
                               "must be one OpenSSH public key line"),
    "volume-too-small": ({"hetzner_server_volume_size": 5}, "hetzner_server_volume_size must be 10-10240"),
    "endpoint-not-a-url": ({"hetzner_server_api_endpoint": "api.hetzner.cloud"}, "is not an http(s) URL"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_any_request(quiet_fake, tmp_path, case):
    override, message = BAD_INPUT[case]
    variables = base_vars(quiet_fake) | override
    run = run_playbook(quiet_fake, tmp_path, f"bad input {case}", variables)
    assert run.rc != 0, f"{case}: the run should have failed\n{run.output[-3000:]}"
    assert message in run.failure_messages(), f"{case}: expected '{message}' in:\n{run.failure_messages()}"
    assert run.requests == [], f"{case}: requests were sent before the input was rejected: {run.requests}"
    assert all(not items for items in quiet_fake.snapshot().values())


def test_unknown_datacenter_fails_with_a_clear_message_and_creates_nothing(quiet_fake, tmp_path):
    variables = base_vars(quiet_fake) | {"hetzner_server_datacenter": "mars1-dc1"}
    run = run_playbook(quiet_fake, tmp_path, "unknown datacenter", variables)
    assert run.rc != 0
    assert "'mars1-dc1' does not exist" in run.failure_messages()
    assert run.mutating == []


def test_kube_api_from_admin_ranges_is_allowed_and_firewall_tag_touches_only_the_firewall(tmp_path):
    fake = FakeHcloud(TOKEN).start()
    try:
        kubectl = {"description": "Kubernetes API from the admin ranges", "protocol": "tcp", "port": "6443",
                   "source_ips": list(ADMIN_RANGES)}
        variables = base_vars(fake) | {"hetzner_server_firewall_extra_rules": [kubectl]}
        run = run_playbook(fake, tmp_path, "firewall tag with admin-only 6443", variables,
                           tags="hetzner_server_firewall")
        assert run.rc == 0, run.output
        assert run.mutating == [("POST", "/firewalls")], run.mutating
        state = fake.snapshot()
        assert state["servers"] == [] and state["volumes"] == [] and state["primary_ips"] == []
        rule = the_one([r for r in the_one(state["firewalls"], "firewall")["rules"] if r["port"] == "6443"],
                       "6443 rule")
        assert rule["source_ips"] == ADMIN_RANGES
    finally:
        fake.stop()


# --------------------------------------------------------------------------
# Waiting for SSH: a loopback "sshd" on the address the fake hands out
# --------------------------------------------------------------------------


class FakeSshd:
    """A loopback listener that greets like OpenSSH (a fake: no SSH protocol behind the banner)."""

    def __init__(self, host: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                    time.sleep(0.2)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_waits_for_ssh_on_the_primary_ip_then_fails_when_sshd_is_silent(tmp_path):
    pool = "127.0.0.0/24"  # the fake hands out loopback addresses for this test only
    fake = FakeHcloud(TOKEN, ipv4_pool=pool).start()
    first_address = str(ipaddress.ip_network(pool)[10])  # the fake starts allocating at host 10
    sshd = FakeSshd(first_address)
    try:
        variables = base_vars(fake) | {
            "hetzner_server_wait_for_ssh": True,
            "hetzner_server_wait_for_ssh_timeout": 30,
            "hetzner_server_ssh_port": sshd.port,
        }
        run = run_playbook(fake, tmp_path, "converge with wait for SSH", variables)
        assert run.rc == 0, run.output
        assert sshd.connections >= 1, "wait_for never connected to the server's address"
        wait = run.task("Wait for sshd to answer on the server")
        assert not wait.get("skipped") and not wait.get("failed"), wait
        assert run.handed_over()["ansible_host"] == first_address
        assert int(run.handed_over()["ansible_port"]) == sshd.port
        ssh_rule = [r for r in the_one(fake.snapshot()["firewalls"], "firewall")["rules"]
                    if r["port"] == str(sshd.port)]
        assert the_one(ssh_rule, "SSH rule")["source_ips"] == ADMIN_RANGES

        sshd.close()
        silent = run_playbook(fake, tmp_path, "wait for SSH with sshd gone",
                              variables | {"hetzner_server_wait_for_ssh_timeout": 3})
        assert silent.rc != 0
        message = silent.failure_messages()
        assert "Timeout when waiting for" in message and f"{first_address}:{sshd.port}" in message, message
    finally:
        sshd.close()
        fake.stop()

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/rebuild.yml --tags hetzner, run by the real ansible-playbook against a FAKE Hetzner Cloud API.

Real: ansible-playbook, playbooks/rebuild.yml (its confirmation guard, the
hetzner_server role's `replace` entry point, then site.yml's node play with the
role's converge), the hetzner.hcloud modules and their vendored hcloud library,
ansible.builtin.known_hosts and ssh-keygen on a temporary known_hosts file.
Fake: the Hetzner Cloud API (fake_hcloud.py, in-memory, loopback only). In the
rebuild runs its actions stay `running` for one poll and a server deletion takes
effect only when its action finishes, so a role that did not wait would trip over
the old server's name. The OS of the fake server halts one read after an ACPI
shutdown, or never (second rebuild), so the hard power-off fallback runs too.

Nothing here is skipped: a missing ansible-playbook, library or ssh-keygen fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from fake_hcloud import FakeHcloud  # noqa: E402
from test_hetzner_server import (  # noqa: E402
    INVENTORY, REPO, SERVER, TOKEN, Run, _ansible_playbook, _ssh_public_key, api, base_vars, playbook_env,
    the_one)

REBUILD = os.path.join(REPO, "playbooks", "rebuild.yml")
CONVERGE = os.path.join(HERE, "converge.yml")
TIMINGS: dict[str, float] = {}
OTHER_HOST = "192.0.2.50"  # an unrelated known_hosts entry (RFC 5737), never contacted


def rebuild_vars(fake: FakeHcloud, known_hosts) -> dict:
    return base_vars(fake) | {
        "platform_hetzner_enabled": True,
        # With --tags hetzner the always-tagged preflights of the base and k3s roles still run on
        # every k3s_node host and need facts from a real node; the fake server is therefore handed
        # over to a group no play of site.yml targets.
        "hetzner_server_inventory_group": "fake_k3s_node",
        "hetzner_server_known_hosts_path": str(known_hosts),
        "hetzner_server_replace_shutdown_timeout": 30,
    }


def run(fake: FakeHcloud, tmp_path, label: str, playbook: str, variables: dict, *, confirm: str | None = None,
        check: bool = False, verbosity: int = 0, json_output: bool = True, tags: str | None = "hetzner") -> Run:
    """One real ansible-playbook run; confirm is passed like an operator would: -e confirm_rebuild=NAME."""
    env = playbook_env(tmp_path, json_output)
    env["HCLOUD_TOKEN"] = TOKEN
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    vars_file = tmp_path / f"vars-{slug}.json"
    vars_file.write_text(json.dumps(variables))
    cmd = [_ansible_playbook(), "-i", INVENTORY, playbook, "-e", f"@{vars_file}"]
    if confirm is not None:
        cmd += ["-e", f"confirm_rebuild={confirm}"]
    if tags:
        cmd += ["--tags", tags]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    fake.clear_requests()
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    duration = time.monotonic() - started
    TIMINGS[label] = duration
    (tmp_path / f"{slug}.log").write_text(proc.stdout + proc.stderr)  # for reading after a failure
    with fake.lock:
        requests = [dict(r) for r in fake.requests]
    return Run(proc, requests, duration, json_output)


def ipv4_of(state: dict) -> dict:
    return the_one([p for p in state["primary_ips"] if p["type"] == "ipv4"], "primary IPv4")


def paths(run_: Run, method: str, pattern: str) -> list[str]:
    return [r["path"] for r in run_.requests if r["method"] == method and re.fullmatch(pattern, r["path"])]


def index_of(run_: Run, method: str, path: str) -> int:
    for number, request in enumerate(run_.requests):
        if request["method"] == method and request["path"] == path:
            return number
    raise AssertionError(f"no {method} {path} in {[(r['method'], r['path']) for r in run_.requests]}")


def wait_for_action(fake: FakeHcloud, action: dict) -> None:
    """Poll an action of the fake like the hcloud library does, until it is finished."""
    for _attempt in range(10):
        if action["status"] != "running":
            assert action["status"] == "success", action
            return
        status, body = api(fake, "GET", f"/actions/{action['id']}")
        assert status == 200, body
        action = body["action"]
    raise AssertionError(f"action never finished: {action}")


def delete_server_by_hand(fake: FakeHcloud, server_id: int) -> None:
    """The server is lost: protection lifted and deleted outside Ansible (the IP and the volume stay)."""
    status, body = api(fake, "POST", f"/servers/{server_id}/actions/change_protection",
                       {"delete": False, "rebuild": False})
    assert status == 201, body
    wait_for_action(fake, body["action"])
    status, body = api(fake, "DELETE", f"/servers/{server_id}")
    assert status == 200, body
    wait_for_action(fake, body["action"])


def ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        pytest.fail("ssh-keygen not found: ansible.builtin.known_hosts needs it (apt-get install openssh-client)")
    return found


def known_host_line(host: str) -> str:
    return host + " " + " ".join(_ssh_public_key().split()[:2]) + "\n"


def write_known_hosts(path, ip: str) -> dict[str, str]:
    """A known_hosts file as ssh leaves it on Debian (HashKnownHosts yes) plus plain lines added by hand."""
    path.write_text(known_host_line(ip) + known_host_line(OTHER_HOST))
    subprocess.run([ssh_keygen(), "-H", "-f", str(path)], check=True, capture_output=True)
    kept = {"[%s]:2222" % ip: known_host_line("[%s]:2222" % ip), "bastion.example": known_host_line("bastion.example")}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(known_host_line(SERVER))
        handle.write(kept["[%s]:2222" % ip])
        handle.write(known_host_line(ip))
        handle.write(kept["bastion.example"])
    return kept


def known(path, host: str) -> bool:
    """Whether ssh would find a key for host in path (hashed entries included)."""
    proc = subprocess.run([ssh_keygen(), "-F", host, "-f", str(path)], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


# --------------------------------------------------------------------------
# Lifecycle: converge, refuse without confirmation, check mode, rebuild twice,
# rebuild after the server was lost
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hetzner-rebuild")
    known_hosts = tmp_path / "known_hosts"
    fake = FakeHcloud(TOKEN, shutdown_reads=1).start()
    try:
        variables = rebuild_vars(fake, known_hosts)
        runs: dict = {"fake": fake, "known_hosts": known_hosts}
        runs["converge"] = run(fake, tmp_path, "converge (setup)", CONVERGE, variables, tags=None)
        assert runs["converge"].rc == 0, runs["converge"].output
        runs["state"] = fake.snapshot()
        ip = ipv4_of(runs["state"])["ip"]
        runs["kept_lines"] = write_known_hosts(known_hosts, ip)
        assert known(known_hosts, ip) and known(known_hosts, SERVER) and known(known_hosts, OTHER_HOST)
        runs["known_hosts_before"] = known_hosts.read_text()

        runs["no_confirm"] = run(fake, tmp_path, "rebuild without confirm_rebuild", REBUILD, variables)
        runs["wrong_confirm"] = run(fake, tmp_path, "rebuild confirming another name", REBUILD, variables,
                                    confirm="hn-k3s-other")
        runs["check"] = run(fake, tmp_path, "rebuild --check", REBUILD, variables, confirm=SERVER, check=True)
        runs["state_after_check"] = fake.snapshot()
        runs["known_hosts_after_check"] = known_hosts.read_text()

        with fake.lock:
            fake.state.action_polls = 1  # from here on every action runs for one poll
        runs["rebuild"] = run(fake, tmp_path, "rebuild (graceful shutdown)", REBUILD, variables, confirm=SERVER)
        runs["state_after_rebuild"] = fake.snapshot()
        runs["known_hosts_after_rebuild"] = known_hosts.read_text()

        with fake.lock:
            fake.state.shutdown_reads = None  # the new server's OS ignores the ACPI shutdown
        runs["rebuild_again"] = run(fake, tmp_path, "second rebuild (OS ignores ACPI, -vvvv)", REBUILD,
                                    variables | {"hetzner_server_replace_shutdown_timeout": 3},
                                    confirm=SERVER, verbosity=4, json_output=False)
        runs["state_after_second"] = fake.snapshot()

        delete_server_by_hand(fake, the_one(runs["state_after_second"]["servers"], "server")["id"])
        runs["state_lost"] = fake.snapshot()
        known_hosts.write_text(known_host_line(ip) + known_host_line(OTHER_HOST))
        runs["rebuild_lost"] = run(fake, tmp_path, "rebuild after the server was lost", REBUILD, variables,
                                   confirm=SERVER)
        runs["state_after_lost"] = fake.snapshot()
        runs["known_hosts_after_lost"] = known_hosts.read_text()
        yield runs
    finally:
        fake.stop()
        print("\nrebuild test timings: " + ", ".join(f"{k}: {v:.1f}s" for k, v in TIMINGS.items()))


REBUILD_RUNS = ("rebuild", "rebuild_again", "rebuild_lost")


@pytest.mark.parametrize("key", ["no_confirm", "wrong_confirm"])
def test_rebuild_without_the_right_confirmation_fails_before_any_request(rebuilt, key):
    run_ = rebuilt[key]
    assert run_.rc != 0, run_.output
    message = run_.failure_messages()
    assert f"deletes and re-creates the server '{SERVER}'" in message, message
    assert f"-e confirm_rebuild={SERVER}" in message, message
    assert run_.requests == [], f"{key}: the API was called before the confirmation: {run_.requests}"
    assert run_.mutating == []


def test_check_mode_predicts_the_replace_and_changes_nothing(rebuilt):
    run_ = rebuilt["check"]
    assert run_.rc == 0, run_.output
    assert run_.requests, "check mode must still read the API"
    assert run_.mutating == [], f"check mode sent mutating requests: {run_.mutating}"
    assert rebuilt["state_after_check"] == rebuilt["state"]
    assert rebuilt["known_hosts_after_check"] == rebuilt["known_hosts_before"], "check mode edited known_hosts"
    for task in ("Power the server off (at once if its OS did not halt in time)",
                 "Detach the data volume from the stopped server",
                 "Lift the server's delete and rebuild protection",
                 "Delete the server"):
        assert run_.task(task).get("changed") is True, f"check mode did not predict: {task}"
    removal = run_.task("Forget the old server's SSH host keys on the controller")
    predicted = {item["item"]: item.get("changed") for item in removal["results"]}
    assert predicted == {SERVER: True, ipv4_of(rebuilt["state"])["ip"]: True}, predicted


def test_rebuild_replaces_the_server_on_the_same_ip_and_volume(rebuilt):
    run_ = rebuilt["rebuild"]
    assert run_.rc == 0, run_.output
    before, after = rebuilt["state"], rebuilt["state_after_rebuild"]
    old = the_one(before["servers"], "server")
    new = the_one(after["servers"], "server")
    assert new["id"] != old["id"] and new["name"] == SERVER
    ipv4_before, ipv4_after = ipv4_of(before), ipv4_of(after)
    assert (ipv4_after["id"], ipv4_after["ip"]) == (ipv4_before["id"], ipv4_before["ip"])
    assert ipv4_after["assignee_id"] == new["id"] and new["public_net"]["ipv4"]["id"] == ipv4_before["id"]
    volume_before, volume_after = the_one(before["volumes"], "volume"), the_one(after["volumes"], "volume")
    assert volume_after["id"] == volume_before["id"] and volume_after["server"] == new["id"]
    assert new["volumes"] == [volume_before["id"]]
    assert new["protection"] == {"delete": True, "rebuild": True}
    assert new["status"] == "running"
    assert the_one(after["firewalls"], "firewall")["applied_to"] == [{"type": "server", "server": {"id": new["id"]}}]

    # The old server: asked to shut down, then the volume detached, protection lifted, deleted;
    # the new one created only after that (the fake refuses the name while the old one exists).
    order = [index_of(run_, "POST", f"/servers/{old['id']}/actions/shutdown"),
             index_of(run_, "POST", f"/volumes/{volume_before['id']}/actions/detach"),
             index_of(run_, "POST", f"/servers/{old['id']}/actions/change_protection"),
             index_of(run_, "DELETE", f"/servers/{old['id']}"),
             index_of(run_, "POST", "/servers")]
    assert order == sorted(order), order
    protection = [r["body"] for r in run_.requests if r["path"] == f"/servers/{old['id']}/actions/change_protection"]
    assert protection == [{"delete": False, "rebuild": False}]
    # Its OS halted one read after the ACPI request: the role waited for that instead of cutting the power.
    assert paths(run_, "POST", r"/servers/\d+/actions/poweroff") == []
    polls = [r for r in run_.requests[order[0]:order[1]] if r["method"] == "GET" and r["path"] == f"/servers/{old['id']}"]
    assert len(polls) >= 2, "the role did not wait for the server to halt"
    created = paths(run_, "POST", r"/(ssh_keys|firewalls|primary_ips|volumes)")
    assert created == [], f"a rebuild must not recreate kept resources: {created}"
    assert paths(run_, "POST", "/servers") == ["/servers"]
    server_post = the_one([r["body"] for r in run_.requests if r["method"] == "POST" and r["path"] == "/servers"],
                          "server create request")
    assert server_post["public_net"]["ipv4"] == ipv4_before["id"] and server_post["volumes"] == [volume_before["id"]]


@pytest.mark.parametrize("key", REBUILD_RUNS)
def test_the_ip_and_the_volume_are_never_deleted_changed_or_unprotected(rebuilt, key):
    run_ = rebuilt[key]
    assert run_.rc == 0, run_.output
    touched = [(r["method"], r["path"]) for r in run_.requests if r["method"] != "GET"
               and re.match(r"/(primary_ips|volumes)/\d+", r["path"])
               and not re.fullmatch(r"/volumes/\d+/actions/detach", r["path"])]
    assert touched == [], f"{key}: kept resources were modified: {touched}"
    for state in (rebuilt["state_after_rebuild"], rebuilt["state_after_second"], rebuilt["state_after_lost"]):
        ipv4 = ipv4_of(state)
        assert ipv4["protection"] == {"delete": True} and ipv4["auto_delete"] is False
        assert the_one(state["volumes"], "volume")["protection"] == {"delete": True}


def test_second_rebuild_powers_off_a_server_that_ignores_acpi_and_keeps_the_token_secret(rebuilt):
    run_ = rebuilt["rebuild_again"]
    assert run_.rc == 0, run_.output
    assert run_.stats()["failures"] == 0
    previous = the_one(rebuilt["state_after_rebuild"]["servers"], "server")
    new = the_one(rebuilt["state_after_second"]["servers"], "server")
    assert new["id"] != previous["id"]
    assert ipv4_of(rebuilt["state_after_second"])["id"] == ipv4_of(rebuilt["state"])["id"]
    assert the_one(rebuilt["state_after_second"]["volumes"], "volume")["server"] == new["id"]
    assert new["protection"] == {"delete": True, "rebuild": True}
    shutdown = index_of(run_, "POST", f"/servers/{previous['id']}/actions/shutdown")
    poweroff = index_of(run_, "POST", f"/servers/{previous['id']}/actions/poweroff")
    detach = index_of(run_, "POST", f"/volumes/{the_one(rebuilt['state']['volumes'], 'v')['id']}/actions/detach")
    assert shutdown < poweroff < detach < index_of(run_, "DELETE", f"/servers/{previous['id']}")
    assert TOKEN not in run_.output, "API token printed at -vvvv"
    acpi = run_.stdout.split("Ask the OS of the running server to shut down (ACPI)", 1)[1].split("TASK [", 1)[0]
    assert "censored" in acpi and "Bearer" not in acpi, f"the ACPI request carries the token, it must be no_log:{acpi}"


def test_rebuild_of_a_lost_server_creates_it_on_the_same_ip_and_volume(rebuilt):
    run_ = rebuilt["rebuild_lost"]
    assert run_.rc == 0, run_.output
    assert rebuilt["state_lost"]["servers"] == []
    report = run_.task("Report that there is no server to delete")
    assert f"Server '{SERVER}' does not exist" in report["msg"], report
    assert paths(run_, "DELETE", r"/servers/\d+") == []
    assert paths(run_, "POST", r"/(servers|volumes)/\d+/actions/(shutdown|poweroff|detach)") == []
    new = the_one(rebuilt["state_after_lost"]["servers"], "server")
    assert ipv4_of(rebuilt["state_after_lost"])["id"] == ipv4_of(rebuilt["state"])["id"]
    assert ipv4_of(rebuilt["state_after_lost"])["assignee_id"] == new["id"]
    assert the_one(rebuilt["state_after_lost"]["volumes"], "volume")["server"] == new["id"]
    assert new["protection"] == {"delete": True, "rebuild": True}
    known_hosts = rebuilt["known_hosts"]
    assert not known(known_hosts, ipv4_of(rebuilt["state"])["ip"]), "the IP's old host key is still known"
    assert known(known_hosts, OTHER_HOST)


def test_rebuild_forgets_the_old_host_keys_and_keeps_every_other_entry(rebuilt):
    known_hosts = rebuilt["known_hosts"]
    ip = ipv4_of(rebuilt["state"])["ip"]
    content = rebuilt["known_hosts_after_rebuild"]
    known_hosts_copy = known_hosts.parent / "known_hosts.after-rebuild"
    known_hosts_copy.write_text(content)
    assert not known(known_hosts_copy, ip), "the IP's old host keys (hashed and plain) are still known"
    assert not known(known_hosts_copy, SERVER), "the server name's old host key is still known"
    assert known(known_hosts_copy, OTHER_HOST), "an unrelated (hashed) entry was removed"
    for line in rebuilt["kept_lines"].values():
        assert line in content, f"an unrelated entry was removed or changed: {line}"
    before = rebuilt["known_hosts_before"].splitlines()
    assert len(content.splitlines()) == len(before) - 3, content


def test_token_is_never_printed_by_a_rebuild(rebuilt):
    for key in ("no_confirm", "wrong_confirm", "check") + REBUILD_RUNS:
        run_ = rebuilt[key]
        assert TOKEN not in run_.output, f"API token printed in the {key} run"
        assert all(r["authorized"] for r in run_.requests), f"{key}: a request without the token"


# --------------------------------------------------------------------------
# Refusals: nothing the converge cannot bring back is put at risk
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hetzner-refusals")
    fake = FakeHcloud(TOKEN).start()
    try:
        known_hosts = tmp_path / "known_hosts"
        setup = run(fake, tmp_path, "converge (refusal setup)", CONVERGE, rebuild_vars(fake, known_hosts), tags=None)
        assert setup.rc == 0, setup.output
        yield fake, known_hosts
    finally:
        fake.stop()


def _auto_delete(fake: FakeHcloud, value: bool) -> None:
    with fake.lock:
        for primary_ip in fake.state.primary_ips.values():
            primary_ip["auto_delete"] = value


def _move_volume(fake: FakeHcloud, to_other: bool) -> None:
    """Attach the data volume to another server (or back), through the fake API."""
    state = fake.snapshot()
    volume = the_one(state["volumes"], "volume")
    if to_other:
        status, body = api(fake, "POST", "/servers", {"name": "hn-other", "server_type": "cx22",
                                                      "image": "debian-12", "datacenter": "fsn1-dc14"})
        assert status == 201, body
        target = body["server"]["id"]
    else:
        target = next(s["id"] for s in state["servers"] if s["name"] == SERVER)
    assert api(fake, "POST", f"/volumes/{volume['id']}/actions/detach")[0] == 201
    assert api(fake, "POST", f"/volumes/{volume['id']}/actions/attach", {"server": target})[0] == 201
    if not to_other:
        other = next(s["id"] for s in state["servers"] if s["name"] == "hn-other")
        assert api(fake, "DELETE", f"/servers/{other}")[0] == 200


REFUSALS = {
    # case: (extra vars, change to the fake before the run and its undo, expected message)
    "ipv4-auto-delete-on": ({}, _auto_delete,
                            "has auto_delete on: Hetzner would delete it together with the server"),
    "ipv4-missing": ({"hetzner_server_primary_ipv4_name": f"{SERVER}-ipv4-typo"}, None,
                     f"its primary IPv4 '{SERVER}-ipv4-typo' does not exist"),
    "volume-missing": ({"hetzner_server_volume_name": f"{SERVER}-data-typo"}, None,
                       f"its data volume '{SERVER}-data-typo' does not exist"),
    "volume-attached-to-another-server": ({}, _move_volume,
                                          "is attached to another server ('hn-other')"),
    "converge-input-invalid": ({"hetzner_server_admin_ranges": []}, None, "hetzner_server_admin_ranges is empty"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_rebuild_refuses_when_the_ip_or_the_volume_would_not_come_back(converged, tmp_path, case):
    fake, known_hosts = converged
    override, change, message = REFUSALS[case]
    if change:
        change(fake, True)
    try:
        before = fake.snapshot()
        run_ = run(fake, tmp_path, f"refusal {case}", REBUILD, rebuild_vars(fake, known_hosts) | override,
                   confirm=SERVER)
        after = fake.snapshot()
    finally:
        if change:
            change(fake, False)
    assert run_.rc != 0, f"{case}: the rebuild should have stopped\n{run_.output[-3000:]}"
    assert message in run_.failure_messages(), f"{case}: expected '{message}' in:\n{run_.failure_messages()}"
    assert run_.mutating == [], f"{case}: mutating requests before the refusal: {run_.mutating}"
    assert after == before
    if case == "converge-input-invalid":
        assert run_.requests == [], "bad converge input must stop the rebuild before any request"
    assert SERVER in [s["name"] for s in after["servers"]], "the server was deleted despite the refusal"

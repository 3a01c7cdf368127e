# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""convex_backup, run by the real ansible-playbook with the REAL Convex CLI against a FAKE backend.

Real: ansible-playbook, the module, the Convex CLI (npm package ``convex``, the
version the module pins, installed by scripts/convex-cli.sh) and every HTTP
and WebSocket request it makes. Fake: the Convex backend
(tests/fakes/fake_convex_backend.py, in memory, loopback only), because its
image cannot run here.

Nothing here is skipped: a CLI that cannot be installed fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for path in (REPO, os.path.join(REPO, "collections")):
    if path not in sys.path:
        sys.path.insert(0, path)

from processes import processes_mentioning  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)
from ansible_collections.hansenexus.platform.plugins.module_utils.backup import CONVEX_CLI_VERSION  # noqa: E402
from ansible_collections.hansenexus.platform.plugins.module_utils.convex_keys import (  # noqa: E402
    generate_instance_secret,
    issue_admin_key,
)
from tests.fakes.fake_convex_backend import FakeConvexBackend  # noqa: E402
from tests.playbook import run_playbook  # noqa: E402

PLAYBOOK = "tests/backup/backup.yml"
INSTANCE = "convex-planex-test"
APP = "planex-test"
TABLES = {
    "messages": [{"body": "hello", "author": "ada", "n": 1}, {"body": "world", "author": "bob", "n": 2}],
    "users": [{"name": "ada", "admin": True}, {"name": "bob", "admin": False, "tags": ["x", "y"]}],
    "empty": [],
}


@pytest.fixture(scope="session")
def convex_cli():
    """The pinned Convex CLI, installed (or found in the cache) by scripts/convex-cli.sh."""
    proc = subprocess.run([os.path.join(REPO, "scripts", "convex-cli.sh")], capture_output=True, text=True,
                          timeout=900, check=False)
    if proc.returncode != 0:
        pytest.fail("scripts/convex-cli.sh failed (rc=%s):\n%s" % (proc.returncode, proc.stderr[-3000:]))
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture()
def backend():
    with FakeConvexBackend(INSTANCE, generate_instance_secret(), tables=TABLES) as fake:
        yield fake


@pytest.fixture()
def dest(tmp_path):
    return str(tmp_path / "backups" / APP)


class Outcome:
    """One playbook run: ``run`` (rc, recap, output), ``result`` (the module's result or None), ``key``."""

    def __init__(self, run, result, key):
        self.run = run
        self.result = result
        self.key = key


def backup(fake, cli_path, dest_dir, tmp_path, args=("-v",), **params):
    """Run the test playbook once with the module's options ``params``; return an Outcome."""
    result_file = str(tmp_path / ("result-%s.json" % secrets.token_hex(4)))
    extra = {"backup_name": APP, "backup_url": fake.url if fake else params.pop("url"),
             "backup_admin_key": params.pop("admin_key", None) or fake.admin_key(),
             "backup_cli": params.pop("cli", [cli_path]), "backup_dest": dest_dir, "backup_result_file": result_file}
    extra.update(("backup_" + key, value) for key, value in params.items())
    run = run_playbook(PLAYBOOK, inventory="localhost,", extra_vars=extra, args=args, timeout=600)
    result = None
    if os.path.exists(result_file):
        with open(result_file, encoding="utf-8") as handle:
            result = json.load(handle)
    return Outcome(run, result, extra["backup_admin_key"])


def zip_tables(path):
    """{table: [document, ...]} from a snapshot ZIP, as the CLI downloaded it."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        listed = [json.loads(line)["name"] for line in archive.read("_tables/documents.jsonl").decode().splitlines()]
        tables = {}
        for name in listed:
            lines = archive.read("%s/documents.jsonl" % name).decode().splitlines()
            tables[name] = [json.loads(line) for line in lines if line]
    assert "README.md" in names
    return tables


def exports_in(dest_dir):
    return sorted(name for name in os.listdir(dest_dir) if name.endswith(".zip"))


def assert_no_secret(text, key):
    assert key not in text
    assert key.split("|", 1)[1] not in text


def test_cli_is_the_pinned_release(convex_cli):
    """The CLI the tests run is the npm release the module pins by default."""
    version = subprocess.run([convex_cli, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version == CONVEX_CLI_VERSION


def test_export_writes_a_private_zip_of_the_tables(backend, convex_cli, dest, tmp_path):
    outcome = backup(backend, convex_cli, dest, tmp_path)
    run, result, key = outcome.run, outcome.result, outcome.key
    assert run.rc == 0, run
    assert run.recap["localhost"]["changed"] == 1, run
    path = result["path"]
    assert os.path.dirname(path) == dest and exports_in(dest) == [os.path.basename(path)]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    assert not [name for name in os.listdir(dest) if name.endswith(".partial")]
    assert zip_tables(path) == backend.tables
    assert result["size"] == os.path.getsize(path)
    assert result["removed"] == []
    assert ("POST", "/api/export/request/zip") in backend.requests
    assert_no_secret(run.output, key)


def test_retention_keeps_the_two_newest(backend, convex_cli, dest, tmp_path):
    os.makedirs(dest)
    with open(os.path.join(dest, "notes.txt"), "w") as handle:
        handle.write("not an export\n")
    paths = []
    removed = []
    for number in range(3):
        backend.set_table("messages", [{"body": "export %d" % number}])
        outcome = backup(backend, convex_cli, dest, tmp_path, keep=2)
        run, result = outcome.run, outcome.result
        assert run.rc == 0, run
        paths.append(result["path"])
        removed.append(result["removed"])
    assert sorted(paths) == paths and len(set(paths)) == 3
    assert exports_in(dest) == [os.path.basename(p) for p in paths[1:]]
    assert removed == [[], [], [paths[0]]]
    assert os.path.exists(os.path.join(dest, "notes.txt"))
    assert [zip_tables(p)["messages"][0]["body"] for p in paths[1:]] == ["export 1", "export 2"]


def test_check_mode_writes_nothing_and_reports_changed(backend, convex_cli, dest, tmp_path):
    outcome = backup(backend, convex_cli, dest, tmp_path, args=("--check", "-v"), keep=2)
    run, result = outcome.run, outcome.result
    assert run.rc == 0, run
    assert run.recap["localhost"]["changed"] == 1, run
    assert not os.path.exists(dest)
    assert os.path.dirname(result["path"]) == dest and result["removed"] == []
    assert backend.requests == [("GET", "/version")]

    # With exports already there, check mode names the one the retention would delete, and deletes nothing.
    os.makedirs(dest)
    old = ["20200101T000000Z.zip", "20200102T000000Z.zip"]
    for name in old:
        with open(os.path.join(dest, name), "wb") as handle:
            handle.write(b"an old export")
    outcome = backup(backend, convex_cli, dest, tmp_path, args=("--check",), keep=2)
    assert outcome.run.rc == 0 and outcome.run.recap["localhost"]["changed"] == 1, outcome.run
    assert outcome.result["removed"] == [os.path.join(dest, old[0])]
    assert exports_in(dest) == old
    assert backend.requests == [("GET", "/version")] * 2


def test_restore_latest_puts_the_exported_tables_back(backend, convex_cli, dest, tmp_path):
    outcome = backup(backend, convex_cli, dest, tmp_path)
    run, exported, key = outcome.run, outcome.result, outcome.key
    assert run.rc == 0, run
    before = json.loads(json.dumps(backend.tables))

    backend.set_table("messages", [{"body": "changed after the backup"}])
    backend.set_table("intruder", [{"x": 1}])
    backend.drop_table("users")
    assert backend.tables != before

    outcome = backup(backend, convex_cli, dest, tmp_path, state="restored", path="latest")
    run, restored = outcome.run, outcome.result
    assert run.rc == 0, run
    assert run.recap["localhost"]["changed"] == 1, run
    assert restored["path"] == exported["path"]
    assert restored["documents"] == sum(len(docs) for docs in TABLES.values())
    assert backend.tables == before, "the import must replace all data, dropping tables the export lacks"
    assert ("POST", "/api/perform_import") in backend.requests
    assert_no_secret(run.output, key)

    # Round trip: a new export of the restored deployment holds the same tables.
    outcome = backup(backend, convex_cli, dest, tmp_path)
    run, again = outcome.run, outcome.result
    assert run.rc == 0, run
    assert zip_tables(again["path"]) == zip_tables(exported["path"])


def test_restore_in_check_mode_imports_nothing(backend, convex_cli, dest, tmp_path):
    outcome = backup(backend, convex_cli, dest, tmp_path)
    run, exported = outcome.run, outcome.result
    assert run.rc == 0, run
    backend.set_table("messages", [{"body": "keep me"}])
    backend.requests.clear()
    outcome = backup(backend, convex_cli, dest, tmp_path, args=("--check",), state="restored", path="latest")
    run, result = outcome.run, outcome.result
    assert run.rc == 0, run
    assert run.recap["localhost"]["changed"] == 1, run
    assert result["path"] == exported["path"]
    assert backend.requests == [("GET", "/version")]
    assert backend.user_data()["messages"] == [{"body": "keep me"}]


def test_restore_of_a_missing_file_fails_clearly(backend, convex_cli, dest, tmp_path):
    missing = os.path.join(dest, "20200101T000000Z.zip")
    run = backup(backend, convex_cli, dest, tmp_path, state="restored", path=missing).run
    assert run.rc != 0 and run.recap["localhost"]["failed"] == 1, run
    assert "%s: the export to restore, %s, does not exist" % (APP, missing) in run.output
    assert ("POST", "/api/import/start_upload") not in backend.requests


def test_skips_when_the_backend_does_not_answer(convex_cli, dest, tmp_path):
    with socket.socket() as sock:          # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    key = issue_admin_key(INSTANCE, generate_instance_secret())
    outcome = backup(None, convex_cli, dest, tmp_path, url=url, admin_key=key, timeout=3)
    run, result = outcome.run, outcome.result
    assert run.rc == 0, run
    assert run.recap["localhost"]["skipped"] == 1 and run.recap["localhost"]["changed"] == 0, run
    assert "skipping: [localhost]" in run.output
    assert result["skipped"] is True
    assert result["msg"].startswith("%s: the Convex backend at %s did not answer GET %s/version" % (APP, url, url))
    assert not os.path.exists(dest)
    assert_no_secret(run.output, key)


def test_skips_when_the_cli_is_missing(backend, dest, tmp_path):
    outcome = backup(backend, None, dest, tmp_path, cli=["convex-cli-not-installed", "--yes"])
    run, result = outcome.run, outcome.result
    assert run.rc == 0, run
    assert run.recap["localhost"]["skipped"] == 1, run
    assert result["skipped"] is True
    assert result["msg"] == ("%s: convex-cli-not-installed is not installed on the controller "
                             "(the Convex CLI needs Node.js)" % APP)
    assert backend.requests == [] and not os.path.exists(dest)


def test_a_hung_export_is_stopped_at_the_time_limit(backend, convex_cli, dest, tmp_path):
    backend.stall_exports = True   # the FAKE backend holds the export request open
    outcome = backup(backend, convex_cli, dest, tmp_path, cli_timeout=5)
    assert outcome.run.rc != 0, outcome.run
    assert "%s: convex export against %s did not finish within 5 s and was stopped" % (APP, backend.url) \
        in outcome.run.output, outcome.run
    assert not os.path.isdir(dest) or os.listdir(dest) == []   # no export, no partial file
    assert processes_mentioning(dest) == []                    # the CLI and its node processes are gone
    assert_no_secret(outcome.run.output, outcome.key)


def test_wrong_admin_key_fails_with_a_clear_message(backend, convex_cli, dest, tmp_path):
    wrong = issue_admin_key(INSTANCE, generate_instance_secret())     # right name, other secret
    run = backup(backend, convex_cli, dest, tmp_path, admin_key=wrong).run
    assert run.rc != 0, run
    assert run.recap["localhost"]["failed"] == 1, run
    assert "convex_backup (state=exported) %s: convex export against %s failed (exit 1)" % (APP, backend.url) \
        in run.output
    assert "rejected the admin key" in run.output
    assert "401 Unauthorized: BadAdminKey" in run.output
    assert_no_secret(run.output, wrong)
    assert os.listdir(dest) == []      # no export, no partial file


def test_wrong_admin_key_fails_a_restore(backend, convex_cli, dest, tmp_path):
    run = backup(backend, convex_cli, dest, tmp_path).run
    assert run.rc == 0, run
    wrong = issue_admin_key(INSTANCE, generate_instance_secret())
    run = backup(backend, convex_cli, dest, tmp_path, args=("-vvv",), admin_key=wrong, state="restored",
                 path="latest").run
    assert run.rc != 0 and run.recap["localhost"]["failed"] == 1, run
    assert "convex import against %s failed" % backend.url in run.output and "BadAdminKey" in run.output
    assert_no_secret(run.output, wrong)
    assert backend.user_data() == {name: sorted(docs, key=lambda d: json.dumps(d, sort_keys=True))
                                   for name, docs in TABLES.items()}


def test_admin_key_never_in_verbose_output(backend, convex_cli, dest, tmp_path):
    """-vvv prints module arguments and results: the key must be masked everywhere, also in the result."""
    outcome = backup(backend, convex_cli, dest, tmp_path, args=("-vvv",))
    run, result, key = outcome.run, outcome.result, outcome.key
    assert run.rc == 0, run
    assert_no_secret(run.output, key)
    assert_no_secret(json.dumps(result), key)
    with open(result["path"], "rb") as handle:
        assert key.encode() not in handle.read()


def test_zip_is_the_backends_export_byte_for_byte(backend, convex_cli, dest, tmp_path):
    """The module renames what the CLI downloaded; it does not rewrite it."""
    outcome = backup(backend, convex_cli, dest, tmp_path)
    run, result = outcome.run, outcome.result
    assert run.rc == 0, run
    with open(result["path"], "rb") as handle:
        data = handle.read()
    assert [data] == list(backend._export_zips.values())
    assert result["sha256"] == hashlib.sha256(data).hexdigest()

"""The logic of convex_backup: names, retention, skip reasons, scrubbing, export/restore with a stub CLI."""

import datetime
import os
import stat
import zipfile

import pytest

from processes import processes_mentioning

from ansible_collections.hansenexus.platform.plugins.module_utils import backup
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 21, 23, 15, 0, tzinfo=UTC)
KEY = "convex-unit|01" + "ab" * 36
URL = "http://127.0.0.1:1"


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------

@pytest.mark.parametrize("when,expected", [
    (NOW, "20261121T231500Z"),
    (datetime.datetime(2026, 11, 22, 0, 15, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
     "20261121T231500Z"),
    (datetime.datetime(2026, 1, 2, 3, 4, 5), "20260102T030405Z"),
])
def test_export_stamp_is_utc(when, expected):
    assert backup.export_stamp(when) == expected


@pytest.mark.parametrize("name,expected", [
    ("20261121T231500Z.zip", True),
    ("20261121T231500Z.zip.partial", False),
    ("20261121T231500.zip", False),
    ("planex-20261121T231500Z.zip", False),
    ("notes.txt", False),
])
def test_is_export_name(name, expected):
    assert backup.is_export_name(name) is expected


@pytest.mark.parametrize("existing,expected", [
    ([], "20261121T231500Z.zip"),
    (["20261121T231459Z.zip"], "20261121T231500Z.zip"),
    (["20261121T231500Z.zip"], "20261121T231501Z.zip"),
    (["20261121T231500Z.zip", "20261121T231501Z.zip"], "20261121T231502Z.zip"),
])
def test_next_export_name_is_unique_and_sorts_last(existing, expected):
    name = backup.next_export_name(NOW, existing)
    assert name == expected
    assert sorted(existing + [name])[-1] == name


def test_names_sort_by_time():
    times = [NOW + datetime.timedelta(seconds=s) for s in (0, 9, 10, 3600, 86400 * 40)]
    names = [backup.next_export_name(t, []) for t in times]
    assert sorted(names) == names


# --------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------

THREE = ["20261119T000000Z.zip", "20261120T000000Z.zip", "20261121T000000Z.zip"]


@pytest.mark.parametrize("names,keep,expected", [
    (THREE, 2, THREE[:1]),
    (THREE, 1, THREE[:2]),
    (THREE, 3, []),
    (THREE, 7, []),
    (THREE, 0, []),
    ([], 2, []),
    (list(reversed(THREE)), 1, THREE[:2]),
    (THREE + ["notes.txt", "20261118T000000Z.zip.partial"], 1, THREE[:2]),
])
def test_select_removals_keeps_the_newest(names, keep, expected):
    assert backup.select_removals(names, keep) == expected


@pytest.mark.parametrize("keep", [-1, "2", None, True, 1.5])
def test_select_removals_rejects_bad_keep(keep):
    with pytest.raises(ValidationError, match="keep must be an integer >= 0"):
        backup.select_removals(THREE, keep)


def test_list_exports_ignores_other_files(tmp_path):
    for name in THREE + ["notes.txt", "20261122T000000Z.zip.partial"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "20261123T000000Z.zip").mkdir()
    assert backup.list_exports(str(tmp_path)) == THREE
    assert backup.list_exports(str(tmp_path / "missing")) == []


def test_resolve_restore_path(tmp_path):
    for name in THREE:
        (tmp_path / name).write_bytes(b"x")
    assert backup.resolve_restore_path("latest", str(tmp_path)) == str(tmp_path / THREE[-1])
    assert backup.resolve_restore_path(str(tmp_path / THREE[0]), None) == str(tmp_path / THREE[0])
    with pytest.raises(PlatformError, match="does not exist"):
        backup.resolve_restore_path(str(tmp_path / "gone.zip"), str(tmp_path))
    with pytest.raises(ValidationError, match="absolute"):
        backup.resolve_restore_path("relative.zip", str(tmp_path))
    with pytest.raises(ValidationError, match="needs dest"):
        backup.resolve_restore_path("latest", None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PlatformError, match="no export .* in %s" % empty):
        backup.resolve_restore_path("latest", str(empty))


# --------------------------------------------------------------------------
# Skip reasons
# --------------------------------------------------------------------------

def test_cli_skip_reason_names_the_app_and_the_program(tmp_path):
    assert backup.cli_skip_reason("planex-prod", ["npx", "--yes", "convex@1"], str(tmp_path)) == (
        "planex-prod: npx is not installed on the controller (the Convex CLI needs Node.js)")


def test_cli_skip_reason_finds_programs_on_path_and_by_path(tmp_path):
    program = tmp_path / "convex"
    program.write_text("#!/bin/sh\n")
    assert backup.cli_skip_reason("a", ["convex"], str(tmp_path)) is not None   # not executable yet
    assert backup.cli_skip_reason("a", [str(program)], "") is not None
    program.chmod(0o755)
    assert backup.cli_skip_reason("a", ["convex"], str(tmp_path)) is None
    assert backup.cli_skip_reason("a", [str(program)], "") is None
    assert backup.cli_skip_reason("a", [str(tmp_path / "nope")], str(tmp_path)) is not None
    with pytest.raises(ValidationError, match="cli must name"):
        backup.cli_skip_reason("a", [], str(tmp_path))


def test_probe_skip_reason():
    seen = []

    def answers(status):
        def fetch(url, timeout):
            seen.append((url, timeout))
            return status
        return fetch

    def refuses(url, timeout):
        raise OSError("Connection refused")

    assert backup.probe_skip_reason("planex-prod", "https://c.example/", 5, answers(200)) is None
    assert seen == [("https://c.example/version", 5)]
    reason = backup.probe_skip_reason("planex-prod", "https://c.example", 5, answers(503))
    assert reason == ("planex-prod: the Convex backend at https://c.example did not answer GET "
                      "https://c.example/version with 200 within 5s: it answered HTTP 503")
    reason = backup.probe_skip_reason("planex-prod", "https://c.example", 5, refuses)
    assert reason.startswith("planex-prod: the Convex backend at https://c.example ")
    assert reason.endswith(": Connection refused")


def test_skip_reason_checks_the_cli_before_the_url(tmp_path):
    def fetch(url, timeout):
        raise AssertionError("no probe when the CLI is missing")

    job = backup.ConvexBackup("planex-prod", URL, KEY, ["convex"], environ={"PATH": str(tmp_path)})
    assert "convex is not installed" in job.skip_reason(3, fetch)


# --------------------------------------------------------------------------
# Scrubbing and the CLI's environment
# --------------------------------------------------------------------------

def test_scrub_removes_the_key_its_encrypted_part_and_colours():
    secrets = backup.secret_forms(KEY)
    tail = KEY.split("|", 1)[1]
    text = "key %s and \x1b[31m%s\x1b[39m\n" % (KEY, tail)
    cleaned = backup.scrub(text, secrets)
    assert cleaned == "key ******** and ********\n"
    assert KEY not in cleaned and tail not in cleaned
    assert backup.scrub(None, secrets) is None
    assert backup.secret_forms("") == []


def test_cli_environment_selects_only_the_self_hosted_backend():
    base = {"PATH": "/bin", "HOME": "/root", "CONVEX_DEPLOYMENT": "dev:x", "CONVEX_DEPLOY_KEY": "k",
            "CONVEX_SELF_HOSTED_URL": "https://old"}
    env = backup.cli_environment(base, URL, KEY)
    assert env["CONVEX_SELF_HOSTED_URL"] == URL
    assert env["CONVEX_SELF_HOSTED_ADMIN_KEY"] == KEY
    assert "CONVEX_DEPLOYMENT" not in env and "CONVEX_DEPLOY_KEY" not in env
    assert env["CI"] == "1" and env["PATH"] == "/bin"
    assert base["CONVEX_SELF_HOSTED_URL"] == "https://old"


def test_argv():
    cli = ["npx", "--yes", "convex@1.48.0"]
    assert backup.export_argv(cli, "/b/x.zip.partial") == cli + ["export", "--path", "/b/x.zip.partial"]
    assert backup.import_argv(cli, "/b/x.zip") == cli + ["import", "--replace-all", "-y", "/b/x.zip"]
    assert backup.import_argv(cli, "/b/x.bak") == cli + ["import", "--replace-all", "-y", "--format", "zip",
                                                         "/b/x.bak"]
    assert backup.DEFAULT_CLI == ["npx", "--yes", "convex@" + backup.CONVEX_CLI_VERSION]


def test_summarize_output_drops_spinner_frames():
    output = ("- Creating snapshot export\n\n\u2716 Creating snapshot export\n\n"
              "\u2716 Error fetching POST 401 Unauthorized: BadAdminKey: nope\nAuthenticate with `npx convex dev`\n")
    assert backup.summarize_output(output) == (
        "Creating snapshot export; Error fetching POST 401 Unauthorized: BadAdminKey: nope; "
        "Authenticate with `npx convex dev`")
    assert backup.summarize_output("") == "no output"


# --------------------------------------------------------------------------
# Export and restore with a stub CLI
# --------------------------------------------------------------------------

def zip_bytes():
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("_tables/documents.jsonl", "")
    return buf.getvalue()


class StubCli(object):
    """Records calls; for ``export --path P`` writes ``content`` to P (as the CLI does)."""

    def __init__(self, rc=0, output="done\n", content=None):
        self.rc = rc
        self.output = output
        self.content = zip_bytes() if content is None else content
        self.calls = []

    def __call__(self, argv, env, cwd, timeout=None):
        with open(os.path.join(cwd, "package.json")) as handle:
            package = handle.read()
        self.calls.append((argv, env, cwd, package))
        if "export" in argv and self.content is not False:
            with open(argv[argv.index("--path") + 1], "wb") as handle:
                handle.write(self.content)
        return self.rc, self.output


def job(stub, check_mode=False, when=NOW):
    return backup.ConvexBackup("planex-prod", URL, KEY, ["convex"], check_mode=check_mode, runner=stub,
                               clock=lambda: when, environ={"PATH": "/bin", "CONVEX_DEPLOYMENT": "dev:x"})


def test_export_writes_a_private_file_and_applies_retention(tmp_path):
    dest = tmp_path / "planex-prod"
    dest.mkdir(mode=0o755)
    for name in THREE + ["notes.txt"]:
        (dest / name).write_bytes(b"old")
    stub = StubCli()
    result = job(stub).export(str(dest), 2)
    final = str(dest / "20261121T231500Z.zip")
    assert result["changed"] is True
    assert result["path"] == final
    assert result["removed"] == [str(dest / THREE[0]), str(dest / THREE[1])]
    assert sorted(os.listdir(str(dest))) == [THREE[2], "20261121T231500Z.zip", "notes.txt"]
    assert stat.S_IMODE(os.stat(final).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o700
    assert result["size"] == len(stub.content)
    argv, env, cwd, package = stub.calls[0]
    assert argv == ["convex", "export", "--path", final + ".partial"]
    assert env["CONVEX_SELF_HOSTED_ADMIN_KEY"] == KEY and "CONVEX_DEPLOYMENT" not in env
    assert '"convex"' in package
    assert not os.path.exists(cwd)


def test_export_creates_dest_0700(tmp_path):
    dest = tmp_path / "new" / "planex-prod"
    job(StubCli()).export(str(dest), 7)
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o700


def test_export_check_mode_touches_nothing(tmp_path):
    dest = tmp_path / "planex-prod"
    stub = StubCli()
    result = job(stub, check_mode=True).export(str(dest), 2)
    assert result["changed"] is True
    assert result["path"] == str(dest / "20261121T231500Z.zip")
    assert result["removed"] == []
    assert stub.calls == [] and not dest.exists()

    dest.mkdir()
    for name in THREE:
        (dest / name).write_bytes(b"old")
    result = job(stub, check_mode=True).export(str(dest), 2)
    assert result["removed"] == [str(dest / THREE[0]), str(dest / THREE[1])]
    assert stub.calls == [] and sorted(os.listdir(str(dest))) == THREE


def test_export_failure_keeps_old_exports_and_leaves_no_partial(tmp_path):
    dest = tmp_path / "planex-prod"
    dest.mkdir()
    (dest / THREE[0]).write_bytes(b"old")
    stub = StubCli(rc=1, output="\u2716 Error fetching POST 401 Unauthorized: BadAdminKey: invalid; key was %s\n" % KEY)
    with pytest.raises(PlatformError) as info:
        job(stub).export(str(dest), 1)
    message = str(info.value)
    assert message.startswith("planex-prod: convex export against %s failed (exit 1)" % URL)
    assert "rejected the admin key" in message and "BadAdminKey" in message
    assert KEY not in message and KEY.split("|")[1] not in message
    assert os.listdir(str(dest)) == [THREE[0]]


@pytest.mark.parametrize("content,fragment", [(False, "wrote no file"), (b"not a zip", "not a ZIP file")])
def test_export_rejects_a_missing_or_broken_file(tmp_path, content, fragment):
    dest = tmp_path / "planex-prod"
    with pytest.raises(PlatformError, match=fragment):
        job(StubCli(content=content)).export(str(dest), 1)
    assert os.listdir(str(dest)) == []


def test_export_validates_before_running(tmp_path):
    stub = StubCli()
    with pytest.raises(ValidationError, match="absolute"):
        job(stub).export("relative/dir", 1)
    with pytest.raises(ValidationError, match="keep"):
        job(stub).export(str(tmp_path), -1)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ValidationError, match="not a directory"):
        job(stub).export(str(tmp_path / "file"), 1)
    assert stub.calls == []


def test_two_exports_in_one_second_get_distinct_names(tmp_path):
    dest = str(tmp_path / "d")
    first = job(StubCli()).export(dest, 0)["path"]
    second = job(StubCli()).export(dest, 0)["path"]
    assert [os.path.basename(first), os.path.basename(second)] == ["20261121T231500Z.zip", "20261121T231501Z.zip"]


def test_restore_latest_runs_import_replace_all(tmp_path):
    dest = tmp_path / "planex-prod"
    dest.mkdir()
    for name in THREE:
        (dest / name).write_bytes(zip_bytes())
    stub = StubCli(output="- Importing\n\u2714 Added 42 documents.\n")
    result = job(stub).restore("latest", str(dest))
    assert result["changed"] is True and result["path"] == str(dest / THREE[-1])
    assert result["documents"] == 42
    assert stub.calls[0][0] == ["convex", "import", "--replace-all", "-y", str(dest / THREE[-1])]


def test_restore_check_mode_and_errors(tmp_path):
    dest = tmp_path / "planex-prod"
    dest.mkdir()
    (dest / THREE[0]).write_bytes(zip_bytes())
    stub = StubCli()
    result = job(stub, check_mode=True).restore("latest", str(dest))
    assert result["changed"] is True and stub.calls == []
    (dest / "broken.zip").write_bytes(b"nope")
    with pytest.raises(PlatformError, match="not a ZIP file"):
        job(stub).restore(str(dest / "broken.zip"), None)
    with pytest.raises(PlatformError, match="does not exist"):
        job(stub).restore(str(dest / "missing.zip"), None)
    failing = StubCli(rc=1, output="\u2716 Importing data failed\nTable t already exists\n")
    with pytest.raises(PlatformError, match="convex import against .* failed .*Table t already exists"):
        job(failing).restore("latest", str(dest))


def test_unrunnable_cli_is_a_platform_error(tmp_path):
    def broken(argv, env, cwd, timeout=None):
        raise OSError("Exec format error: %s" % KEY)

    with pytest.raises(PlatformError) as info:
        job(broken).export(str(tmp_path / "d"), 1)
    assert "could not run convex" in str(info.value) and KEY not in str(info.value)


# --------------------------------------------------------------------------
# The admin key from the instance's Kubernetes Secret
# --------------------------------------------------------------------------

REF = {"namespace": "convex", "name": "convex-planex-prod", "key": "admin-key"}


def secret_with(data):
    return {"apiVersion": "v1", "kind": "Secret", "data": data}


def b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("secret,ref,expected", [
    (secret_with({"admin-key": b64(KEY)}), REF, (KEY, None)),
    (secret_with({"admin-key": b64(KEY + "\n")}), REF, (KEY, None)),
    (secret_with({"key": b64(KEY)}), dict(REF, key="key"), (KEY, None)),
    (None, REF, (None, "planex-prod: no admin key stored: Secret convex/convex-planex-prod does not exist")),
    (secret_with({"instance-secret": b64("x")}), REF,
     (None, "planex-prod: no admin key stored: Secret convex/convex-planex-prod has no 'admin-key'")),
    ({"kind": "Secret"}, REF,
     (None, "planex-prod: no admin key stored: Secret convex/convex-planex-prod has no 'admin-key'")),
    (secret_with({"admin-key": b64("\n")}), REF,
     (None, "planex-prod: no admin key stored: 'admin-key' of Secret convex/convex-planex-prod is empty")),
])
def test_admin_key_from_secret(secret, ref, expected):
    assert backup.admin_key_from_secret("planex-prod", secret, ref) == expected


def test_admin_key_from_a_broken_secret_is_an_error():
    with pytest.raises(PlatformError, match="not base64"):
        backup.admin_key_from_secret("planex-prod", secret_with({"admin-key": "%%%="}), REF)


def test_skip_reason_reads_the_secret_after_the_cli_check_and_before_the_probe(tmp_path):
    program = tmp_path / "convex"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    calls = []

    def read(ref):
        calls.append(("secret", ref["name"]))
        return secret_with({"admin-key": b64(KEY)})

    def fetch(url, timeout):
        calls.append(("probe", url))
        return 200

    job = backup.ConvexBackup("planex-prod", URL, None, ["convex"], environ={"PATH": str(tmp_path)})
    assert job.skip_reason(3, fetch, REF, read) is None
    assert calls == [("secret", REF["name"]), ("probe", URL + "/version")]
    assert job.admin_key == KEY and KEY in job.secrets

    missing = backup.ConvexBackup("planex-prod", URL, None, ["convex"], environ={"PATH": str(tmp_path)})
    assert "no admin key stored" in missing.skip_reason(3, fetch, REF, lambda ref: None)

    no_cli = backup.ConvexBackup("planex-prod", URL, None, ["convex"], environ={"PATH": ""})
    calls[:] = []
    assert "is not installed" in no_cli.skip_reason(3, fetch, REF, read)
    assert calls == []
    with pytest.raises(ValidationError, match="admin key or the Secret"):
        backup.ConvexBackup("planex-prod", URL, None, ["convex"], environ={"PATH": str(tmp_path)}).skip_reason(3, fetch)


# --------------------------------------------------------------------------
# The module's main(), in-process, with the Secret read through a stub Kube
# --------------------------------------------------------------------------

STUB_CLI = r"""#!/bin/sh
# Stub of the Convex CLI for unit tests: writes a ZIP to --path and prints the key it was given.
echo "admin key in my environment: $CONVEX_SELF_HOSTED_ADMIN_KEY"
while [ "$#" -gt 0 ]; do
  if [ "$1" = "--path" ]; then
    printf 'PK\005\006\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' > "$2"
  fi
  shift
done
"""


class StubKube(object):
    def __init__(self, secret):
        self.secret = secret
        self.calls = []

    def get(self, api_version, kind, name, namespace=None):
        self.calls.append((api_version, kind, name, namespace))
        return self.secret

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.closed = True


@pytest.fixture()
def version_server():
    """A loopback HTTP server whose /version answers 200 (the probe's target)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/version" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def run_main(capsys, monkeypatch, kube, **args):
    import json
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.hansenexus.platform.plugins.module_utils import backup
    from ansible_collections.hansenexus.platform.plugins.modules import convex_backup

    monkeypatch.setattr(backup.kube, "connect", lambda params: kube)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            convex_backup.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out), out


def test_main_exports_with_the_key_from_the_secret_and_masks_it(capsys, monkeypatch, tmp_path, version_server):
    cli = tmp_path / "convex"
    cli.write_text(STUB_CLI)
    cli.chmod(0o755)
    kube = StubKube(secret_with({"admin-key": b64(KEY)}))
    code, result, out = run_main(capsys, monkeypatch, kube, name="planex-prod", url=version_server,
                                 admin_key_secret={"namespace": "convex", "name": "convex-planex-prod"},
                                 dest=str(tmp_path / "d"), keep=1, cli=[str(cli)])
    assert code == 0, out
    assert kube.calls == [("v1", "Secret", "convex-planex-prod", "convex")]
    assert result["changed"] is True and os.path.isfile(result["path"])
    assert "admin key in my environment: " in result["output"]
    assert KEY not in out and KEY.split("|")[1] not in out


def test_main_skips_when_no_key_is_stored(capsys, monkeypatch, tmp_path, version_server):
    code, result, out = run_main(capsys, monkeypatch, StubKube(None), name="planex-prod", url=version_server,
                                 admin_key_secret={"namespace": "convex", "name": "gone"},
                                 dest=str(tmp_path / "d"), cli=["sh"])
    assert code == 0
    assert result["skipped"] is True and result["changed"] is False
    assert result["msg"] == "planex-prod: no admin key stored: Secret convex/gone does not exist"
    assert not os.path.exists(str(tmp_path / "d"))


def test_main_needs_exactly_one_key_source(capsys, monkeypatch, tmp_path):
    code, result, out = run_main(capsys, monkeypatch, StubKube(None), name="planex-prod", url=URL,
                                 dest=str(tmp_path / "d"))
    assert code == 1 and "one of the following is required: admin_key, admin_key_secret" in result["msg"]
    code, result, out = run_main(capsys, monkeypatch, StubKube(None), name="planex-prod", url=URL, admin_key=KEY,
                                 admin_key_secret={"namespace": "convex", "name": "x"}, dest=str(tmp_path / "d"))
    assert code == 1 and "mutually exclusive" in result["msg"]


def test_a_cli_over_its_time_limit_is_stopped_with_everything_it_started(tmp_path):
    marker = str(tmp_path / "still-running")
    # The "CLI" starts a grandchild (like npx starting node) and both would run for minutes.
    script = "sleep 300 %s & sleep 300" % marker
    with pytest.raises(backup.CliTimeout) as info:
        backup.run_process(["sh", "-c", "echo started; " + script], dict(os.environ), str(tmp_path), timeout=1)
    assert "started" in info.value.output
    assert processes_mentioning(marker) == []


def test_an_export_over_its_time_limit_fails_naming_the_app_and_leaves_no_partial(tmp_path):
    def hung(argv, env, cwd, timeout=None):
        with open(argv[argv.index("--path") + 1], "wb") as handle:
            handle.write(b"half an export")
        raise backup.CliTimeout("Downloading... admin key %s" % KEY)

    job_ = backup.ConvexBackup("planex-prod", URL, KEY, ["convex"], runner=hung, cli_timeout=30,
                               environ={"PATH": "/bin"})
    dest = tmp_path / "planex-prod"
    with pytest.raises(PlatformError) as info:
        job_.export(str(dest), 3)
    message = str(info.value)
    assert message.startswith("planex-prod: convex export against %s did not finish within 30 s" % URL)
    assert KEY not in message and KEY.split("|")[1] not in message
    assert os.listdir(str(dest)) == []

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Export and restore one self-hosted Convex deployment with the Convex CLI.

The data leaves and enters the backend only through the official CLI (npm
package ``convex``): ``convex export --path FILE`` downloads a snapshot ZIP,
``convex import --replace-all -y FILE`` replaces the deployment's tables with
those of a snapshot. The CLI selects the self-hosted backend from
``CONVEX_SELF_HOSTED_URL`` and ``CONVEX_SELF_HOSTED_ADMIN_KEY``; it refuses to
run without a ``package.json`` that lists ``convex``, so it runs in a scratch
directory that has one (and no ``.env.local`` of whoever started it).

Exports are named after the UTC time they were taken, ``20261121T231500Z.zip``,
so names sort by time. Retention only ever touches files with such names.

Everything here takes plain values; the CLI runner, the HTTP probe and the
clock are parameters, so the logic is testable without Ansible, Node or a
backend. Errors are :class:`PlatformError` / :class:`ValidationError` with
messages that never contain the admin key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile

from urllib.error import HTTPError

from ansible.module_utils.urls import open_url

from ansible_collections.hansenexus.platform.plugins.module_utils import kube
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import PlatformError, ValidationError

#: The Convex CLI version this collection is tested with (npm package ``convex``).
#: scripts/convex-cli.sh reads it from here.
CONVEX_CLI_VERSION = "1.48.0"
DEFAULT_CLI = ["npx", "--yes", "convex@" + CONVEX_CLI_VERSION]

#: Key of the admin key in the instance's Kubernetes Secret (see manifests.SECRET_KEYS).
SECRET_ADMIN_KEY = "admin-key"

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EXPORT_NAME = re.compile(r"^(\d{8}T\d{6}Z)\.zip$")
PARTIAL_SUFFIX = ".partial"
DIR_MODE = 0o700
FILE_MODE = 0o600
MASK = "********"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDED = re.compile(r"Added (\d+) documents")


# --------------------------------------------------------------------------
# Names and retention
# --------------------------------------------------------------------------

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def export_stamp(when):
    """``20261121T231500Z`` for an aware datetime (converted to UTC) or a naive one taken as UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc)
    return when.strftime(STAMP_FORMAT)


def is_export_name(name):
    return EXPORT_NAME.match(name) is not None


def next_export_name(now, existing):
    """The file name for an export taken at ``now``: its stamp, moved on by a second while taken.

    Two exports within one second would otherwise collide; moving forward keeps
    names unique and in the order the exports were taken.
    """
    taken = set(existing)
    when = now
    while True:
        name = export_stamp(when) + ".zip"
        if name not in taken:
            return name
        when = when + datetime.timedelta(seconds=1)


def list_exports(dest):
    """Names of the exports in ``dest``, oldest first; [] when ``dest`` does not exist."""
    try:
        names = os.listdir(dest)
    except OSError:
        if not os.path.exists(dest):
            return []
        raise
    return sorted(name for name in names if is_export_name(name) and os.path.isfile(os.path.join(dest, name)))


def select_removals(names, keep):
    """The export names to delete so that the ``keep`` newest remain (``keep=0``: none), oldest first."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValidationError("keep must be an integer >= 0 (0 keeps every export), got %r" % (keep,))
    ordered = sorted(name for name in names if is_export_name(name))
    if keep == 0 or len(ordered) <= keep:
        return []
    return ordered[:len(ordered) - keep]


def resolve_restore_path(path, dest):
    """The export file to import: ``latest`` is the newest export in ``dest``, else an absolute file path."""
    if path == "latest":
        if not dest:
            raise ValidationError("path=latest needs dest, the directory that holds the exports")
        exports = list_exports(dest)
        if not exports:
            raise PlatformError("no export (file named like 20261121T231500Z.zip) in %s to restore" % dest)
        return os.path.join(dest, exports[-1])
    if not os.path.isabs(path):
        raise ValidationError("path must be 'latest' or an absolute file path, got %r" % path)
    if not os.path.isfile(path):
        raise PlatformError("the export to restore, %s, does not exist or is not a file" % path)
    return path


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Preflight: can the export run at all?
# --------------------------------------------------------------------------

def find_executable(program, search_path=None):
    """Absolute path of ``program`` (a name looked up on PATH, or a path), or None if not executable."""
    if os.sep in program:
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    if search_path is None:
        search_path = os.environ.get("PATH", os.defpath)
    return shutil.which(program, path=search_path)


def cli_skip_reason(name, cli, search_path=None):
    """Why the export cannot run on this controller (the CLI's first word is missing), or None."""
    if not cli:
        raise ValidationError("cli must name the Convex CLI command, e.g. [npx, --yes, convex@%s]"
                              % CONVEX_CLI_VERSION)
    if find_executable(cli[0], search_path) is None:
        return "%s: %s is not installed on the controller (the Convex CLI needs Node.js)" % (name, cli[0])
    return None


def version_url(url):
    return url.rstrip("/") + "/version"


def probe_skip_reason(name, url, timeout, fetch):
    """Why the backend is out of reach, or None when ``GET {url}/version`` answers 200.

    ``fetch(url, timeout)`` returns the HTTP status code or raises.
    """
    target = version_url(url)
    try:
        status = fetch(target, timeout)
    except Exception as exc:  # any failure to answer is a reason to skip; the caller decides if it is fatal
        reason = str(exc) or exc.__class__.__name__
    else:
        if status == 200:
            return None
        reason = "it answered HTTP %s" % status
    return "%s: the Convex backend at %s did not answer GET %s with 200 within %ss: %s" % (
        name, url, target, timeout, reason)


def admin_key_from_secret(name, secret, ref):
    """``(admin key, None)`` from a Kubernetes Secret object, or ``(None, skip reason)`` when none is stored.

    ``ref`` is ``{namespace, name, key}``; ``secret`` the object as the API returns it, or None.
    """
    where = "Secret %s/%s" % (ref["namespace"], ref["name"])
    if secret is None:
        return None, "%s: no admin key stored: %s does not exist" % (name, where)
    data = secret.get("data") or {}
    field = ref.get("key") or SECRET_ADMIN_KEY
    if not data.get(field):
        return None, "%s: no admin key stored: %s has no '%s'" % (name, where, field)
    try:
        key = base64.b64decode(data[field], validate=True).decode("utf-8").rstrip("\r\n")
    except (binascii.Error, TypeError, ValueError):
        raise PlatformError("%s: '%s' of %s is not base64-encoded UTF-8 text" % (name, field, where))
    if not key:
        return None, "%s: no admin key stored: '%s' of %s is empty" % (name, field, where)
    return key, None


# --------------------------------------------------------------------------
# Running the CLI
# --------------------------------------------------------------------------

def secret_forms(admin_key):
    """The strings that must never appear in output: the key, and its encrypted part after ``|``."""
    forms = []
    if admin_key:
        forms.append(admin_key)
        tail = admin_key.split("|", 1)[-1]
        if len(tail) >= 8 and tail != admin_key:
            forms.append(tail)
    return forms


def scrub(text, secrets):
    """``text`` without ANSI colour codes and with every secret replaced by ``********``."""
    if text is None:
        return text
    text = _ANSI.sub("", text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def cli_environment(base, url, admin_key):
    """Environment for the CLI: ``base`` without other CONVEX_* selections, plus the self-hosted pair.

    ``CONVEX_DEPLOY_KEY`` or ``CONVEX_DEPLOYMENT`` would take precedence over or
    conflict with the self-hosted variables, so every CONVEX_* variable is
    dropped. ``CI=1`` keeps the CLI from sending crash reports to Convex's
    error tracker (it does unless CI is set), ``NO_COLOR`` keeps output plain.
    """
    env = dict((key, value) for key, value in base.items() if not key.startswith("CONVEX_"))
    env.update(CONVEX_SELF_HOSTED_URL=url, CONVEX_SELF_HOSTED_ADMIN_KEY=admin_key,
               CI="1", NO_COLOR="1", FORCE_COLOR="0")
    return env


def export_argv(cli, target):
    return list(cli) + ["export", "--path", target]


def import_argv(cli, source):
    """Import that replaces all data of the deployment; ``-y`` answers the CLI's confirmation prompt."""
    argv = list(cli) + ["import", "--replace-all", "-y"]
    if not source.endswith(".zip"):
        argv += ["--format", "zip"]
    return argv + [source]


class CliTimeout(Exception):
    """The CLI did not finish in time and was stopped; ``output`` is what it printed until then."""

    def __init__(self, output):
        super(CliTimeout, self).__init__("timed out")
        self.output = output


def run_process(argv, env, cwd, timeout=None):
    """Run ``argv``; return (exit code, stdout and stderr together). stdin is empty: the CLI never prompts.

    After ``timeout`` seconds the CLI and everything it started (npx, node) get SIGTERM, then SIGKILL
    10 s later, and CliTimeout is raised.
    """
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except OSError:
                pass
            try:
                output = proc.communicate(timeout=grace)[0]
                break
            except subprocess.TimeoutExpired:
                continue
        raise CliTimeout(output.decode("utf-8", "replace"))
    return proc.returncode, output.decode("utf-8", "replace")


def summarize_output(output):
    """The lines of CLI output worth a failure message: no spinner frames, no blank lines, no repeats."""
    lines = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith("- ") or line.startswith("\u2714 "):
            continue
        if line.startswith("\u2716 "):
            line = line[2:]
        if line not in lines:
            lines.append(line)
    return "; ".join(lines) or "no output"


# --------------------------------------------------------------------------
# Export and restore
# --------------------------------------------------------------------------

class ConvexBackup(object):
    """Export / restore of one deployment.

    ``runner(argv, env, cwd, timeout) -> (rc, output)`` runs the CLI (raising CliTimeout past ``cli_timeout``).
    """

    def __init__(self, name, url, admin_key, cli=None, check_mode=False, runner=run_process,
                 clock=utcnow, environ=None, cli_timeout=None):
        self.name = name
        self.cli_timeout = cli_timeout
        self.url = url
        self.admin_key = admin_key
        self.cli = list(cli or DEFAULT_CLI)
        self.check_mode = check_mode
        self.runner = runner
        self.clock = clock
        self.environ = os.environ if environ is None else environ
        self.secrets = secret_forms(admin_key)

    def set_admin_key(self, admin_key):
        self.admin_key = admin_key
        self.secrets = secret_forms(admin_key)

    def skip_reason(self, timeout, fetch, secret_ref=None, read_secret=None):
        """Read-only preflight: why this export/restore cannot run here, or None.

        In order: the CLI's command exists; without an admin key, ``read_secret(ref)``
        (the Kubernetes Secret ``secret_ref``, or None) holds one; ``GET {url}/version``
        answers 200.
        """
        reason = cli_skip_reason(self.name, self.cli, self.environ.get("PATH", os.defpath))
        if reason:
            return reason
        if not self.admin_key:
            if secret_ref is None or read_secret is None:
                raise ValidationError("%s: an admin key or the Secret that holds it is required" % self.name)
            key, reason = admin_key_from_secret(self.name, read_secret(secret_ref), secret_ref)
            if reason:
                return reason
            self.set_admin_key(key)
        return probe_skip_reason(self.name, self.url, timeout, fetch)

    # -- the CLI ------------------------------------------------------------

    def _run_cli(self, argv, what):
        workdir = tempfile.mkdtemp(prefix="convex-backup-")
        try:
            with open(os.path.join(workdir, "package.json"), "w") as handle:
                json.dump({"name": "hansenexus-convex-backup", "private": True,
                           "dependencies": {"convex": CONVEX_CLI_VERSION}}, handle)
            try:
                rc, output = self.runner(argv, cli_environment(self.environ, self.url, self.admin_key), workdir,
                                         self.cli_timeout)
            except CliTimeout as exc:
                raise PlatformError("%s: convex %s against %s did not finish within %s s and was stopped: %s" % (
                    self.name, what, self.url, self.cli_timeout, summarize_output(scrub(exc.output, self.secrets))))
            except OSError as exc:
                raise PlatformError("%s: could not run %s: %s" % (self.name, argv[0], scrub(str(exc), self.secrets)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        output = scrub(output, self.secrets)
        if rc != 0:
            hint = ""
            if "BadAdminKey" in output:
                hint = (" (the backend rejected the admin key: it was not issued for this backend's "
                        "instance name and secret)")
            raise PlatformError("%s: convex %s against %s failed (exit %s)%s: %s" % (
                self.name, what, self.url, rc, hint, summarize_output(output)))
        return output

    def _fail(self, message):
        raise PlatformError(scrub(message, self.secrets))

    # -- exported -------------------------------------------------------------

    def export(self, dest, keep):
        """Take a new export into ``dest``, then keep the ``keep`` newest. Returns the result dict."""
        if not dest or not os.path.isabs(dest):
            raise ValidationError("dest must be an absolute directory path, got %r" % (dest,))
        select_removals([], keep)  # validates keep before anything happens
        if os.path.exists(dest) and not os.path.isdir(dest):
            raise ValidationError("dest %s exists and is not a directory" % dest)
        existing = list_exports(dest)
        name = next_export_name(self.clock(), existing)
        final = os.path.join(dest, name)
        if self.check_mode:
            removed = [os.path.join(dest, old) for old in select_removals(existing + [name], keep)]
            return dict(changed=True, path=final, removed=removed,
                        msg="%s: would export %s to %s and remove %d old export(s)"
                        % (self.name, self.url, final, len(removed)))

        if not os.path.isdir(dest):
            os.makedirs(dest, DIR_MODE)
        os.chmod(dest, DIR_MODE)
        partial = final + PARTIAL_SUFFIX
        if os.path.lexists(partial):
            os.unlink(partial)
        try:
            output = self._run_cli(export_argv(self.cli, partial), "export")
            if not os.path.isfile(partial):
                self._fail("%s: convex export reported success but wrote no file at %s; output: %s"
                           % (self.name, partial, summarize_output(output)))
            if not zipfile.is_zipfile(partial):
                self._fail("%s: convex export wrote %s, which is not a ZIP file" % (self.name, partial))
            os.chmod(partial, FILE_MODE)
            os.rename(partial, final)
        finally:
            if os.path.lexists(partial):
                os.unlink(partial)

        removed = []
        for old in select_removals(list_exports(dest), keep):
            os.unlink(os.path.join(dest, old))
            removed.append(os.path.join(dest, old))
        size = os.path.getsize(final)
        return dict(changed=True, path=final, size=size, sha256=file_digest(final), removed=removed,
                    output=output,
                    msg="%s: exported %s to %s (%d bytes), removed %d old export(s)"
                    % (self.name, self.url, final, size, len(removed)))

    # -- restored -------------------------------------------------------------

    def restore(self, path, dest):
        """Import the export ``path`` (``latest``: the newest in ``dest``), replacing all data."""
        source = resolve_restore_path(path, dest)
        if not zipfile.is_zipfile(source):
            raise PlatformError("%s: %s is not a ZIP file, so it is no Convex export" % (self.name, source))
        size = os.path.getsize(source)
        digest = file_digest(source)
        if self.check_mode:
            return dict(changed=True, path=source, size=size, sha256=digest,
                        msg="%s: would replace all data of %s with %s" % (self.name, self.url, source))
        output = self._run_cli(import_argv(self.cli, source), "import")
        added = _ADDED.search(output)
        return dict(changed=True, path=source, size=size, sha256=digest, output=output,
                    documents=int(added.group(1)) if added else None,
                    msg="%s: replaced all data of %s with %s%s" % (
                        self.name, self.url, source,
                        " (%s documents)" % added.group(1) if added else ""))


def fetch_status(url, timeout):
    """HTTP status of GET ``url`` (connection errors propagate)."""
    try:
        return open_url(url, method="GET", timeout=timeout).getcode()
    except HTTPError as exc:
        return exc.code


#: The convex_backup module's arguments (see runner.py).
ARGUMENTS = dict(
    argument_spec=kube.argument_spec(
        name=dict(type="str", required=True),
        url=dict(type="str", required=True),
        admin_key=dict(type="str", no_log=True),
        admin_key_secret=dict(type="dict", no_log=False, options=dict(
            namespace=dict(type="str", required=True),
            name=dict(type="str", required=True),
            key=dict(type="str", default="admin-key", no_log=False),
        )),
        state=dict(type="str", default="exported", choices=["exported", "restored"]),
        dest=dict(type="path"),
        keep=dict(type="int", default=7),
        path=dict(type="str"),
        cli=dict(type="list", elements="str", default=DEFAULT_CLI),
        timeout=dict(type="int", default=10),
        cli_timeout=dict(type="int", default=3600),
    ),
    required_if=[("state", "exported", ["dest"]), ("state", "restored", ["path"]), ("path", "latest", ["dest"])],
    required_one_of=[("admin_key", "admin_key_secret")],
    mutually_exclusive=[("admin_key", "admin_key_secret")],
)


def run(call):
    """The convex_backup module: one export or restore of one app environment, or the reason it was skipped."""
    params = call.params

    def read_secret(ref):
        with kube.connect(params) as client:
            return client.get("v1", "Secret", ref["name"], ref["namespace"])

    backup = ConvexBackup(params["name"], params["url"], params["admin_key"], params["cli"], call.check_mode,
                          cli_timeout=params["cli_timeout"] or None)
    try:
        reason = backup.skip_reason(params["timeout"], fetch_status, params["admin_key_secret"], read_secret)
        if backup.admin_key:
            call.no_log_values.add(backup.admin_key)
        if reason:
            return dict(changed=False, skipped=True, msg=reason)
        if params["state"] == "exported":
            return backup.export(params["dest"], params["keep"])
        return backup.restore(params["path"], params["dest"])
    except (PlatformError, OSError) as exc:
        message = scrub(str(exc), backup.secrets)
        if not message.startswith(params["name"] + ":"):
            message = "%s: %s" % (params["name"], message)
        raise PlatformError("convex_backup (state=%s) %s" % (params["state"], message))

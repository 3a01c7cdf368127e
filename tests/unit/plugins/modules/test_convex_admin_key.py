# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the convex_admin_key module: main() in-process, plus the real `ansible` CLI."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys
from ansible_collections.hansenexus.platform.plugins.module_utils.convex_keys import check_admin_key
from ansible_collections.hansenexus.platform.plugins.modules import convex_admin_key

SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
OTHER_SECRET = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
NAME = "convex-self-hosted"
# Issued by the upstream keybroker code (see test_convex_keys.py).
UPSTREAM_KEY = "convex-self-hosted|0148e8d0cf03f8aa4be17e27a603a7721b12fd62801e14048a886718eb7733b9575fb0f012"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def run_module(capsys, **args):
    """Run main() with ``args``; return (exit code, parsed JSON result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as excinfo:
            convex_admin_key.main()
    out = capsys.readouterr().out
    return excinfo.value.code, json.loads(out), out


def test_generate_secret(capsys):
    code, result, out = run_module(capsys, action="generate_secret")
    assert code == 0
    assert result["changed"] is False
    secret = result["instance_secret"]
    assert len(secret) == 64 and secret == secret.lower()
    int(secret, 16)
    assert set(result) >= {"changed", "instance_secret"}
    assert "admin_key" not in result


def test_issue_is_the_default_action_and_validates(capsys, monkeypatch):
    monkeypatch.setattr(convex_admin_key.time, "time", lambda: 1767225600.5)
    code, result, out = run_module(capsys, instance_secret=SECRET)
    assert code == 0
    assert result["changed"] is False
    assert result["issued_s"] == 1767225600
    key = result["admin_key"]
    assert key.startswith(NAME + "|") and len(key.split("|")[1]) == 74
    check = check_admin_key(key, NAME, SECRET)
    assert check.valid and check.issued_s == 1767225600 and check.member_id == 0 and not check.read_only
    assert SECRET not in out  # the secret is masked in the echoed invocation


def test_issue_with_name_in_check_mode(capsys):
    code, result, out = run_module(capsys, instance_name="convex-planex-prod", instance_secret=SECRET,
                                   _ansible_check_mode=True)
    assert code == 0
    assert result["changed"] is False
    assert check_admin_key(result["admin_key"], "convex-planex-prod", SECRET).valid


@pytest.mark.parametrize("check_mode", [False, True])
def test_validate_upstream_key(capsys, check_mode):
    code, result, out = run_module(capsys, action="validate", instance_secret=SECRET, admin_key=UPSTREAM_KEY,
                                   _ansible_check_mode=check_mode)
    assert code == 0
    assert result["changed"] is False
    assert result["valid"] is True and result["reason"] == "valid"
    assert (result["issued_s"], result["member_id"], result["system"], result["read_only"]) == (
        1700000000, 0, False, False)
    assert result["key_instance_name"] == NAME
    assert UPSTREAM_KEY.split("|")[1] not in out


@pytest.mark.parametrize("args,reason", [
    (dict(instance_secret=OTHER_SECRET), "does not decrypt"),
    (dict(instance_secret=SECRET, instance_name="convex-other"), "not 'convex-other'"),
])
def test_validate_invalid_key_is_not_a_failure(capsys, args, reason):
    code, result, out = run_module(capsys, action="validate", admin_key=UPSTREAM_KEY, **args)
    assert code == 0
    assert result["valid"] is False
    assert reason in result["reason"]
    assert "failed" not in result or result["failed"] is False


def test_validate_prefixed_key(capsys):
    code, result, out = run_module(capsys, action="validate", instance_secret=SECRET, admin_key="prod:" + UPSTREAM_KEY)
    assert result["valid"] is True


@pytest.mark.parametrize("args,message", [
    (dict(instance_secret=SECRET + "\n"), "instance_secret ends with a newline"),
    (dict(instance_secret=SECRET[:63]), "instance_secret has 63 hex characters"),
    (dict(instance_secret="z" + SECRET[1:]), "instance_secret has a non-hex character at position 1"),
    (dict(instance_secret=SECRET, instance_name="prod:x"), "instance_name 'prod:x' contains ':'"),
    (dict(action="validate", instance_secret=SECRET, admin_key=UPSTREAM_KEY + "\n"),
     "admin_key ends with a newline"),
    (dict(action="validate", instance_secret=SECRET, admin_key="not-a-key"),
     "admin_key is not '<instance name>|<hex>'"),
    (dict(action="validate", instance_secret=SECRET + "\n", admin_key=UPSTREAM_KEY),
     "instance_secret ends with a newline"),
])
def test_malformed_inputs_fail_naming_the_field(capsys, args, message):
    code, result, out = run_module(capsys, **args)
    assert code == 1
    assert result["failed"] is True
    assert message in result["msg"]
    assert result["msg"].startswith("convex_admin_key (action=")
    for secret_value in (SECRET, SECRET[:63], SECRET[1:], UPSTREAM_KEY.split("|")[1]):
        assert secret_value not in out


@pytest.mark.parametrize("args,missing", [
    (dict(), "instance_secret"),
    (dict(action="validate", instance_secret=SECRET), "admin_key"),
    (dict(action="validate", admin_key=UPSTREAM_KEY), "instance_secret"),
])
def test_required_if(capsys, args, missing):
    code, result, out = run_module(capsys, **args)
    assert code == 1
    assert missing in result["msg"]


def test_missing_cryptography_fails_with_missing_required_lib(capsys, monkeypatch):
    monkeypatch.setattr(convex_admin_key, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(convex_admin_key, "CRYPTOGRAPHY_IMPORT_ERROR", "ImportError: fake")
    code, result, out = run_module(capsys, instance_secret=SECRET)
    assert code == 1
    assert "Failed to import the required Python library (cryptography>=42.0)" in result["msg"]
    # generating a secret still works without it
    code, result, out = run_module(capsys, action="generate_secret")
    assert code == 0 and len(result["instance_secret"]) == 64


def test_run_reports_platform_errors_from_logic(monkeypatch):
    monkeypatch.setattr(convex_keys, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(convex_keys.PlatformError):
        convex_admin_key.run(dict(action="issue", instance_name=NAME, instance_secret=SECRET, admin_key=None))


# ---------------------------------------------------------------- through the real ansible CLI

def _ansible():
    candidate = os.path.join(os.path.dirname(sys.executable), "ansible")
    path = candidate if os.path.exists(candidate) else shutil.which("ansible")
    assert path, "the ansible CLI must be installed next to the Python running the tests"
    return path


def _adhoc(module_args, *extra):
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.oneline", ANSIBLE_LOAD_CALLBACK_PLUGINS="True")
    cmd = [_ansible(), "localhost", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
           "-m", "hansenexus.platform.convex_admin_key", "-a", json.dumps(module_args)] + list(extra)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)
    return proc.returncode, proc.stdout


def test_cli_issue_in_check_mode_then_validate():
    code, out = _adhoc(dict(instance_name="convex-planex-prod", instance_secret=SECRET), "--check")
    assert code == 0, out
    result = json.loads(out.split("=>", 1)[1])
    assert result["changed"] is False
    key = result["admin_key"]
    assert check_admin_key(key, "convex-planex-prod", SECRET).valid
    assert SECRET not in out

    code, out = _adhoc(dict(action="validate", instance_name="convex-planex-prod", instance_secret=SECRET,
                            admin_key=key))
    assert code == 0, out
    result = json.loads(out.split("=>", 1)[1])
    assert result["valid"] is True
    assert SECRET not in out


def test_cli_failure_does_not_print_the_secret():
    code, out = _adhoc(dict(instance_secret=SECRET + "\n"))
    assert code != 0
    assert "instance_secret ends with a newline" in out
    assert SECRET not in out

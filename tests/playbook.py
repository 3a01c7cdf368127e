"""Run the real ansible-playbook from the checkout and read its recap."""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.recap = {}
        for match in RECAP.finditer(proc.stdout):
            keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
            self.recap[match.group(1)] = dict(zip(keys, map(int, match.groups()[1:])))

    @property
    def changed(self):
        return sum(host["changed"] for host in self.recap.values())

    def __repr__(self):
        return "<Run rc=%s recap=%s>\n%s" % (self.rc, self.recap, self.output[-6000:])


def run_playbook(playbook, inventory="inventories/local", extra_vars=None, args=(), env=None, timeout=900):
    """ansible-playbook PLAYBOOK -i INVENTORY [-e JSON] ARGS, from the repository root."""
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                    ANSIBLE_NOCOLOR="1", PY_COLORS="0")
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=full_env, timeout=timeout,
                          check=False)
    return Run(proc)

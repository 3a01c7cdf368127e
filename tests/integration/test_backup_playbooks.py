"""playbooks/backup.yml and playbooks/restore.yml on the real local control plane.

Real: ansible-playbook, the control plane holding each app's Secret (its admin key), the Convex CLI
(scripts/convex-cli.sh, the version the collection pins) and every request it makes. Fake: the Convex
backends (tests/fakes/fake_convex_backend.py, one per app environment, loopback only), reached through
convex_apps_backup_urls because the local estate's public hosts do not exist.
"""

import base64
import copy
import os
import subprocess

import pytest
from kubernetes import client

from fakes.fake_convex_backend import FakeConvexBackend
from playbook import ROOT, run_playbook
from test_apps import local_apps

from ansible_collections.hansenexus.platform.plugins.module_utils import estate

TABLES = {"messages": [{"body": "hello", "n": 1}, {"body": "world", "n": 2}], "users": [{"name": "ada"}]}
WITH_FAKES = ("planex", "archus", "lexilink-staging")


def instances():
    return [i for i in estate.expand(local_apps(), {"domain": "hansenexus.test", "version": "v1"}, "k3s")
            if i["replicas"]]


@pytest.fixture(scope="module")
def setup(fresh_cluster, tmp_path_factory):
    env = {"HN_CLUSTER_KUBECONFIG": fresh_cluster}
    converge = run_playbook("playbooks/apps.yml", env=env)
    assert converge.rc == 0, converge
    from kubernetes import config

    core = client.CoreV1Api(config.new_client_from_config(config_file=fresh_cluster))
    fakes, keys = {}, []
    for inst in instances():
        data = core.read_namespaced_secret(inst["secret_name"], inst["namespace"]).data
        keys.append(base64.b64decode(data["admin-key"]).decode())
        if inst["id"] in WITH_FAKES:
            fake = FakeConvexBackend(inst["instance_name"], base64.b64decode(data["instance-secret"]).decode(),
                                     tables=copy.deepcopy(TABLES))
            fakes[inst["id"]] = fake.start() or fake
    cli = subprocess.run([os.path.join(ROOT, "scripts", "convex-cli.sh")], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    backups = tmp_path_factory.mktemp("backups")
    extra = {"platform_backup_dir": str(backups), "platform_backup_cli": [cli], "platform_backup_keep": 2,
             "convex_apps_backup_urls": {name: fake.url for name, fake in fakes.items()}}
    yield {"env": env, "fakes": fakes, "keys": keys, "backups": backups, "extra": extra}
    for fake in fakes.values():
        fake.stop()


def exports(backups, name):
    folder = backups / name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_selected_apps_are_exported_with_their_admin_keys(setup):
    run = run_playbook("playbooks/backup.yml", extra_vars=setup["extra"], args=["-e", "apps=planex,archus"],
                       env=setup["env"])
    assert run.rc == 0, run
    assert len(exports(setup["backups"], "planex")) == 1
    assert len(exports(setup["backups"], "archus")) == 1
    assert exports(setup["backups"], "lexilink-staging") == []
    for key in setup["keys"]:
        assert key not in run.output


def test_an_app_that_cannot_be_exported_fails_the_run_after_the_others(setup):
    run = run_playbook("playbooks/backup.yml", extra_vars=setup["extra"], env=setup["env"])
    assert run.rc != 0, run
    flat = " ".join(run.output.split())
    assert "Not exported (the others were):" in flat
    assert "calnexus: " in flat and "https://convex-calnexus.hansenexus.test" in flat, run
    assert "planex: " not in flat.split("Not exported (the others were):")[1].split("Set convex_apps")[0]
    assert len(exports(setup["backups"], "lexilink-staging")) == 1
    assert len(exports(setup["backups"], "archus")) == 2


def test_retention_keeps_the_newest_exports(setup):
    for _attempt in range(2):
        run = run_playbook("playbooks/backup.yml", extra_vars=setup["extra"], args=["-e", "apps=planex"],
                           env=setup["env"])
        assert run.rc == 0, run
    assert len(exports(setup["backups"], "planex")) == 2


def test_restore_needs_a_confirmation_then_puts_the_export_back(setup):
    fake = setup["fakes"]["planex"]
    before = fake.user_data()
    fake.drop_table("users")
    fake.set_table("messages", [{"body": "lost data", "n": 99}])
    refused = run_playbook("playbooks/restore.yml", extra_vars=setup["extra"], args=["-e", "restore=planex"],
                           env=setup["env"])
    assert refused.rc != 0 and "-e confirm_restore=planex" in refused.output, refused
    assert fake.user_data() == {"messages": [{"body": "lost data", "n": 99}]}
    run = run_playbook("playbooks/restore.yml", extra_vars=setup["extra"],
                       args=["-e", "restore=planex", "-e", "confirm_restore=planex"], env=setup["env"])
    assert run.rc == 0, run
    assert fake.user_data() == before


def test_restore_of_an_unknown_app_names_the_known_ones(setup):
    run = run_playbook("playbooks/restore.yml", extra_vars=setup["extra"],
                       args=["-e", "restore=nope", "-e", "confirm_restore=nope"], env=setup["env"])
    assert run.rc != 0
    flat = " ".join(run.output.split())
    assert "restore=nope names no app environment (one of: calnexus, lexilink, " in flat, run
    assert "elbe-akustik" in flat, run

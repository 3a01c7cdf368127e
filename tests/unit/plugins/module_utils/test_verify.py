# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks that end a rebuild (the module runs them against the real cluster in tests/integration)."""

import base64

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys, verify

INST = {"app": "planex", "env": "production", "namespace": "convex", "volume_name": "convex-planex-data",
        "claim_name": "data-convex-planex-0", "pod_name": "convex-planex-0", "secret_name": "convex-planex-production",
        "instance_name": "convex-planex", "data_path": "/mnt/data/convex/convex/convex-planex", "replicas": 1}


def _volume(path=INST["data_path"], claim=INST["claim_name"]):
    return {"spec": {"hostPath": {"path": path}, "claimRef": {"namespace": "convex", "name": claim}}}


def _claim(phase="Bound", volume=INST["volume_name"]):
    return {"spec": {"volumeName": volume}, "status": {"phase": phase}}


def _secret(secret, key):
    data = {"instance-secret": secret, "admin-key": key}
    return {"data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def test_own_directory_and_bound_claim_pass():
    assert verify.storage_problems(INST, _volume(), _claim()) == []


def test_other_directory_is_reported_with_both_paths():
    problems = verify.storage_problems(INST, _volume(path="/mnt/data/convex/convex/convex-other"), _claim())
    assert problems == ["PersistentVolume convex-planex-data points at /mnt/data/convex/convex/convex-other, "
                        "not at the app's directory /mnt/data/convex/convex/convex-planex"]


def test_unbound_or_missing_claim_and_volume_are_reported():
    assert verify.storage_problems(INST, _volume(), _claim("Pending", None)) == [
        verify.PENDING + "PersistentVolumeClaim convex/data-convex-planex-0 is not bound yet"]
    assert "is Lost to" in verify.storage_problems(INST, _volume(), _claim("Lost"))[0]
    assert "reserved for convex/other" in verify.storage_problems(INST, _volume(claim="other"), _claim())[0]
    assert verify.storage_problems(INST, None, None) == ["PersistentVolume convex-planex-data is missing"]


def test_admin_key_must_open_the_stored_secret():
    secret = convex_keys.generate_instance_secret()
    key = convex_keys.issue_admin_key("convex-planex", secret)
    assert verify.key_problems(INST, _secret(secret, key)) == []
    other = convex_keys.generate_instance_secret()
    problems = verify.key_problems(INST, _secret(other, key))
    assert len(problems) == 1 and "not valid" in problems[0]
    assert secret not in problems[0] and key not in problems[0]
    assert verify.key_problems(INST, None) == ["Secret convex/convex-planex-production is missing"]


def test_scaled_to_zero_is_not_waited_for():
    assert verify.pod_problems(dict(INST, replicas=0), None) == []
    assert verify.pod_problems(INST, None) == [verify.PENDING + "backend pod convex/convex-planex-0 does not exist yet"]
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert verify.pod_problems(INST, ready) == []
    assert "not Ready" in verify.pod_problems(INST, {"status": {}})[0]


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_run_waits_for_starting_backends_but_not_for_a_wrong_directory(monkeypatch):
    clock = _Clock()
    checker = verify.Verify(kube=None, timeout=10, poll=1, clock=clock, sleep=clock.sleep)
    starting = [{"final": False, "problems": [verify.PENDING + "x"]}]
    monkeypatch.setattr(checker, "once", lambda instances: starting)
    assert checker.run([]) == starting and clock.now == 10
    clock.now = 0.0
    wrong = [{"final": True, "problems": ["points at /elsewhere"]}, {"final": False, "problems": [verify.PENDING]}]
    # a wrong directory will not fix itself: no waiting
    monkeypatch.setattr(checker, "once", lambda instances: wrong)
    assert checker.run([]) == wrong and clock.now == 0.0

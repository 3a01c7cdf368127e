"""Integration tests for the roles ``traefik`` and ``onepassword_operator``.

They run the real ``ansible-playbook`` (from the same virtualenv as pytest)
against the real local Kubernetes control plane of ``tests/cluster``, started
by the ``cluster_kubeconfig`` fixture of tests/conftest.py (``up.sh``). The cluster
serves the HelmChart, HelmChartConfig and OnePasswordItem CRDs, but no
helm-controller and no 1Password Operator run there, so the tests verify the
objects the roles converge to, not a running Traefik or Connect.

The 1Password credentials and token are FAKES (``files/fake-*``): no Connect
server can exist here. A missing cluster is a test failure, never a skip.

Every object gets a per-session suffix, so reruns and concurrent sessions do
not see each other's state; the objects are deleted at the end.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLAYBOOK = HERE / "playbooks" / "converge.yml"
FAKE_CREDENTIALS_FILE = HERE / "files" / "fake-1password-credentials.json"
FAKE_TOKEN_FILE = HERE / "files" / "fake-onepassword-token"

FAKE_CREDENTIALS = json.loads(FAKE_CREDENTIALS_FILE.read_text())
FAKE_TOKEN = FAKE_TOKEN_FILE.read_text().strip()
# What the role stores: canonical JSON (sorted keys), like Ansible's to_json.
CANONICAL_CREDENTIALS = json.dumps(FAKE_CREDENTIALS, sort_keys=True)
# A second fake token, for the rotation test.
FAKE_TOKEN_ROTATED = FAKE_TOKEN.rsplit(".", 1)[0] + ".RkFLRS1yb3RhdGVk"

SUFFIX = secrets.token_hex(3)
HCC_NAME = "traefik-t" + SUFFIX
OP_NAMESPACE = "op-t" + SUFFIX
OP_RELEASE = "op-t" + SUFFIX
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"

RECAP = re.compile(
    r"^localhost\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)\s+"
    r"skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+"
    r"ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


def _ansible_playbook():
    candidate = Path(sys.executable).parent / "ansible-playbook"
    if not candidate.exists():
        pytest.fail("ansible-playbook not found next to %s; run pytest from the project venv" % sys.executable)
    return str(candidate)


class Run(object):
    """One finished ansible-playbook run."""

    def __init__(self, args, proc, seconds):
        self.args = args
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.seconds = seconds
        match = None
        for match in RECAP.finditer(self.output):
            pass
        self.recap = {k: int(v) for k, v in match.groupdict().items()} if match else None

    @property
    def changed(self):
        assert self.recap is not None, "no PLAY RECAP in output:\n" + self.output
        return self.recap["changed"]

    def explain(self):
        return "ansible-playbook %s -> rc=%s recap=%s\n%s" % (
            " ".join(self.args), self.rc, self.recap, self.output[-6000:])


@pytest.fixture(scope="module")
def kube(cluster_kubeconfig):
    """Clients for the running test cluster; fails (never skips) without it."""
    kubeconfig = Path(cluster_kubeconfig)
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    ext = client.ApiextensionsV1Api(api_client)
    try:
        crds = {c.metadata.name: c for c in ext.list_custom_resource_definition().items}
    except Exception as exc:  # connection refused, TLS, auth ...
        pytest.fail("the cluster behind %s does not answer: %s. Start it with tests/cluster/up.sh." % (kubeconfig, exc))
    for name in ("helmcharts.helm.cattle.io", "helmchartconfigs.helm.cattle.io", "onepassworditems.onepassword.com"):
        if name not in crds:
            pytest.fail("CRD %s is missing from the test cluster (tests/cluster installs it)" % name)

    class Kube(object):
        path = str(kubeconfig)
        core = client.CoreV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        NotFound = ApiException

        def get_custom(self, plural, name, namespace="kube-system"):
            try:
                return self.custom.get_namespaced_custom_object("helm.cattle.io", "v1", namespace, plural, name)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        def get_secret(self, name, namespace):
            try:
                return self.core.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        def namespace_exists(self, name):
            try:
                self.core.read_namespace(name)
                return True
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise

    kube = Kube()
    yield kube

    # Clean up everything this module may have created (names carry SUFFIX).
    for plural, name in [("helmchartconfigs", n) for n in (HCC_NAME, HCC_NAME + "-39", HCC_NAME + "-41")] + [
            ("helmcharts", n) for n in (OP_RELEASE, OP_RELEASE + "-legacy")]:
        try:
            kube.custom.delete_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", plural, name)
        except ApiException:
            pass
    for ns in (OP_NAMESPACE, OP_NAMESPACE + "-legacy", OP_NAMESPACE + "-off"):
        try:
            kube.core.delete_namespace(ns)
        except ApiException:
            pass


@pytest.fixture(scope="module")
def play(kube, tmp_path_factory):
    """Return a function that runs the converge playbook with extra vars."""
    workdir = tmp_path_factory.mktemp("platform-play")
    counter = [0]
    base_vars = {
        "platform_kubeconfig": kube.path,
        "traefik_helmchartconfig_name": HCC_NAME,
        "onepassword_operator_namespace": OP_NAMESPACE,
        "onepassword_operator_release_name": OP_RELEASE,
    }

    def run(extra_vars=None, *args):
        counter[0] += 1
        varfile = workdir / ("vars-%02d.json" % counter[0])
        merged = dict(base_vars)
        merged.update(extra_vars or {})
        varfile.write_text(json.dumps(merged))
        cmd = [_ansible_playbook(), "-i", "localhost,", str(PLAYBOOK), "-e", "@%s" % varfile] + list(args)
        env = dict(os.environ)
        env.update({
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PY_COLORS": "0",
        })
        # The roles must use the kubeconfig they are given, not the environment.
        for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
            env.pop(name, None)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=600, check=False)
        return Run(cmd[1:], proc, time.monotonic() - started)

    return run


@pytest.fixture(scope="module")
def sequence(kube, play):
    """Check mode on a clean cluster, converge twice, then check mode again."""
    runs = {}
    runs["check"] = play({}, "--check", "--diff")
    runs["after_check"] = {
        "hcc": kube.get_custom("helmchartconfigs", HCC_NAME),
        "helmchart": kube.get_custom("helmcharts", OP_RELEASE),
        "namespace": kube.namespace_exists(OP_NAMESPACE),
    }
    runs["converge"] = play({}, "--diff", "-v")
    runs["converge_again"] = play({}, "--diff", "-v")
    runs["check_again"] = play({}, "--check", "--diff")
    return runs


# --- check mode, converge, idempotence ------------------------------------


def test_check_mode_predicts_changes_and_creates_nothing(sequence):
    run = sequence["check"]
    assert run.rc == 0, run.explain()
    # HelmChartConfig, namespace, the report of the two Secrets, HelmChart.
    assert run.changed == 4, run.explain()
    assert "would be created in it" in run.output
    after = sequence["after_check"]
    assert after == {"hcc": None, "helmchart": None, "namespace": False}


def test_first_converge_creates_every_object(sequence):
    run = sequence["converge"]
    assert run.rc == 0, run.explain()
    # HelmChartConfig, namespace, two Secrets, HelmChart.
    assert run.changed == 5, run.explain()


def test_second_converge_changes_nothing(sequence):
    run = sequence["converge_again"]
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()


def test_check_mode_on_converged_cluster_reports_nothing(sequence):
    run = sequence["check_again"]
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()
    # The CRD wait is not skipped when nothing would change.
    tail = run.output.split("Poll the CRD until its Established condition is True", 1)
    assert len(tail) == 2 and tail[1].lstrip("]* \n").startswith("ok: [localhost]"), run.explain()


def test_crd_wait_succeeds_on_established_crd(sequence):
    run = sequence["converge"]
    tail = run.output.split("Poll the CRD until its Established condition is True", 1)
    assert len(tail) == 2, run.explain()
    assert tail[1].lstrip("]* \n").startswith("ok: [localhost]"), run.explain()


# --- traefik: the HelmChartConfig -----------------------------------------


def _values(obj):
    assert obj is not None
    return yaml.safe_load(obj["spec"]["valuesContent"])


def test_helmchartconfig_configures_acme_redirect_and_dashboard(kube, sequence):
    assert sequence["converge"].rc == 0
    obj = kube.get_custom("helmchartconfigs", HCC_NAME)
    assert obj["metadata"]["namespace"] == "kube-system"
    values = _values(obj)
    acme = values["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme == {
        "email": "acme-test@hansenexus.dev",
        "caServer": STAGING,
        "storage": "/data/acme.json",
        "httpChallenge": {"entryPoint": "web"},
    }
    assert values["persistence"] == {
        "enabled": True, "accessMode": "ReadWriteOnce", "storageClass": "local-path",
        "size": "128Mi", "path": "/data"}
    # Chart 37.x layout: redirections directly under the entrypoint.
    assert values["ports"]["web"] == {
        "redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}
    assert values["ports"]["traefik"]["expose"]["default"] is False
    assert values["ingressRoute"]["dashboard"]["enabled"] is False
    assert values["logs"]["access"] == {"enabled": True, "format": "json"}
    assert values["updateStrategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("chart_version,suffix", [("39.0.5", "-39"), ("41.3.0", "-41")])
def test_newer_chart_layouts(kube, play, chart_version, suffix):
    run = play({"traefik_chart_version": chart_version, "traefik_helmchartconfig_name": HCC_NAME + suffix,
                "traefik_acme_challenge": "tls"}, "--tags", "traefik")
    assert run.rc == 0 and run.changed == 1, run.explain()
    values = _values(kube.get_custom("helmchartconfigs", HCC_NAME + suffix))
    assert values["ports"]["web"] == {
        "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}}
    assert values["certificatesResolvers"]["letsencrypt"]["acme"]["tlsChallenge"] is True
    assert "httpChallenge" not in values["certificatesResolvers"]["letsencrypt"]["acme"]
    if chart_version.startswith("41"):
        assert "logs" not in values
        assert values["accessLog"] == {"enabled": True, "format": "json"}
    else:
        assert values["logs"]["access"] == {"enabled": True, "format": "json"}


# --- onepassword_operator: HelmChart and Secrets ---------------------------


def _sha16(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_helmchart_installs_pinned_connect_with_operator(kube, sequence):
    assert sequence["converge"].rc == 0
    obj = kube.get_custom("helmcharts", OP_RELEASE)
    spec = obj["spec"]
    assert {k: spec[k] for k in ("repo", "chart", "version", "targetNamespace")} == {
        "repo": "https://1password.github.io/connect-helm-charts",
        "chart": "connect",
        "version": "2.4.1",
        "targetNamespace": OP_NAMESPACE,
    }
    values = yaml.safe_load(spec["valuesContent"])
    assert values["operator"]["create"] is True
    assert values["operator"]["autoRestart"] is True
    assert values["operator"]["token"] == {"name": "onepassword-token", "key": "token"}
    assert values["connect"]["credentialsName"] == "op-credentials"
    assert values["connect"]["credentialsKey"] == "1password-credentials.json"
    # The chart must not create its own Secrets from values.
    assert "credentials" not in values["connect"] and "value" not in values["operator"]["token"]
    assert values["connect"]["podAnnotations"] == {
        "platform.hansenexus.dev/credentials-sha256": _sha16(CANONICAL_CREDENTIALS)}
    assert values["operator"]["podAnnotations"] == {
        "platform.hansenexus.dev/token-sha256": _sha16(FAKE_TOKEN)}


def _secret_value(secret, key):
    assert secret is not None
    assert secret.type == "Opaque"
    return base64.b64decode(secret.data[key]).decode()


def test_bootstrap_secrets_hold_what_the_chart_expects(kube, sequence):
    assert sequence["converge"].rc == 0
    creds = _secret_value(kube.get_secret("op-credentials", OP_NAMESPACE), "1password-credentials.json")
    # Chart >= 2.3.0 mounts the value as the credentials file: raw JSON.
    assert json.loads(creds) == FAKE_CREDENTIALS
    token = _secret_value(kube.get_secret("onepassword-token", OP_NAMESPACE), "token")
    assert token == FAKE_TOKEN


def test_secrets_never_appear_in_the_output(sequence):
    creds_b64 = base64.b64encode(CANONICAL_CREDENTIALS.encode()).decode()
    needles = {
        "token": FAKE_TOKEN,
        "token signature-less prefix": FAKE_TOKEN.rsplit(".", 1)[0],
        "token base64": base64.b64encode(FAKE_TOKEN.encode()).decode(),
        "credentials field": FAKE_CREDENTIALS["encCredentials"]["data"],
        "credentials key": FAKE_CREDENTIALS["uniqueKey"]["k"],
        "credentials base64": creds_b64[:40],
        "credentials double base64": base64.b64encode(creds_b64.encode()).decode()[:40],
    }
    for name in ("check", "converge", "converge_again", "check_again"):
        output = sequence[name].output
        leaked = [what for what, needle in needles.items() if needle in output]
        assert not leaked, "%s run leaked %s" % (name, leaked)


def test_same_secrets_from_vars_instead_of_files_change_nothing(play, sequence):
    assert sequence["converge"].rc == 0
    run = play({
        "onepassword_operator_credentials_file": "",
        "onepassword_operator_credentials": FAKE_CREDENTIALS,
        "onepassword_operator_token_file": "",
        "onepassword_operator_token": FAKE_TOKEN,
    }, "--tags", "onepassword", "--diff")
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()
    assert FAKE_TOKEN not in run.output


@pytest.fixture(scope="module")
def legacy(play):
    """A release of the pre-2.3.0 chart in its own namespace."""
    extra = {
        "onepassword_operator_chart_version": "2.2.1",
        "onepassword_operator_namespace": OP_NAMESPACE + "-legacy",
        "onepassword_operator_release_name": OP_RELEASE + "-legacy",
    }
    return extra, play(extra, "--tags", "onepassword")


def test_legacy_chart_gets_base64_credentials(kube, legacy):
    extra, run = legacy
    assert run.rc == 0 and run.changed == 4, run.explain()
    creds = _secret_value(kube.get_secret("op-credentials", extra["onepassword_operator_namespace"]),
                          "1password-credentials.json")
    # Before 2.3.0 the chart put the value into OP_SESSION: base64(JSON).
    assert json.loads(base64.b64decode(creds)) == FAKE_CREDENTIALS


def test_token_rotation_updates_secret_and_rolls_pods(kube, play, legacy):
    extra, first = legacy
    assert first.rc == 0, first.explain()
    rotated = dict(extra, onepassword_operator_token_file="", onepassword_operator_token=FAKE_TOKEN_ROTATED)
    # Most verbose, with diffs: an update is where a Secret diff would show.
    run = play(rotated, "--tags", "onepassword", "--diff", "-vvv")
    assert run.rc == 0, run.explain()
    # The token Secret and the HelmChart's pod annotation.
    assert run.changed == 2, run.explain()
    namespace = extra["onepassword_operator_namespace"]
    assert _secret_value(kube.get_secret("onepassword-token", namespace), "token") == FAKE_TOKEN_ROTATED
    values = yaml.safe_load(kube.get_custom("helmcharts", extra["onepassword_operator_release_name"])
                            ["spec"]["valuesContent"])
    assert values["operator"]["podAnnotations"]["platform.hansenexus.dev/token-sha256"] == _sha16(FAKE_TOKEN_ROTATED)
    for needle in (FAKE_TOKEN_ROTATED, FAKE_TOKEN, base64.b64encode(FAKE_TOKEN_ROTATED.encode()).decode(),
                   base64.b64encode(FAKE_TOKEN.encode()).decode()):
        assert needle not in run.output


# --- the CRD wait ----------------------------------------------------------


def test_crd_wait_times_out_with_a_clear_message(play):
    run = play({
        "onepassword_operator_crd_name": "nothing-here.hansenexus.dev",
        "onepassword_operator_crd_wait_timeout": 4,
        "onepassword_operator_crd_wait_delay": 1,
    }, "--tags", "onepassword_crd")
    assert run.rc != 0, run.explain()
    assert "CRD nothing-here.hansenexus.dev is not Established after 4s: it does not exist." in run.output, \
        run.explain()
    assert run.recap["rescued"] == 1 and run.recap["failed"] == 1, run.explain()
    # It waited (4 polls, 1 s apart) but not much longer.
    assert 3 <= run.seconds < 60, run.explain()


# --- switches and preflight --------------------------------------------------


def test_disabled_onepassword_does_nothing(kube, play):
    run = play({
        "onepassword_operator_enabled": False,
        "onepassword_operator_credentials_file": "",
        "onepassword_operator_token_file": "",
        "onepassword_operator_namespace": OP_NAMESPACE + "-off",
    }, "--tags", "onepassword")
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()
    assert not kube.namespace_exists(OP_NAMESPACE + "-off")


PREFLIGHT_CASES = [
    ("email-empty", {"traefik_acme_email": ""}, "traefik_acme_email must be the real contact address"),
    ("email-example", {"traefik_acme_email": "ops@example.com"}, "Let's Encrypt rejects"),
    ("email-malformed", {"traefik_acme_email": "ops-at-hansenexus"}, "traefik_acme_email must be"),
    ("traefik-chart-2", {"traefik_chart_version": "27.0.0"}, "i.e. Traefik 3"),
    ("resolver-dot", {"traefik_cert_resolver": "lets.encrypt"}, "traefik_cert_resolver 'lets.encrypt'"),
    ("size", {"traefik_persistence_size": "lots"}, "must be a Kubernetes quantity"),
    ("op-version-empty", {"onepassword_operator_chart_version": ""}, "must pin an exact chart version"),
    ("op-version-range", {"onepassword_operator_chart_version": "^2.4"}, "must pin an exact chart version"),
    ("no-credentials", {"onepassword_operator_credentials_file": ""},
     "set exactly one of onepassword_operator_credentials_file"),
    ("two-credentials", {"onepassword_operator_credentials": {"a": 1}},
     "set exactly one of onepassword_operator_credentials_file"),
    ("no-token", {"onepassword_operator_token_file": ""}, "set exactly one of onepassword_operator_token_file"),
    ("missing-file", {"onepassword_operator_credentials_file": "/nonexistent/1password-credentials.json"},
     "Could not load the 1Password bootstrap secrets"),
    ("token-as-credentials", {"onepassword_operator_credentials_file": str(FAKE_TOKEN_FILE)},
     "Could not load the 1Password bootstrap secrets"),
    ("wrong-json", {"onepassword_operator_credentials_file": "",
                    "onepassword_operator_credentials": '{"verifier": {}}'},
     "not a 1password-credentials.json"),
    ("token-not-jwt", {"onepassword_operator_token_file": "",
                       "onepassword_operator_token": "fake token with spaces"},
     "not a Connect access token"),
]


@pytest.mark.parametrize("extra,message", [c[1:] for c in PREFLIGHT_CASES], ids=[c[0] for c in PREFLIGHT_CASES])
def test_preflight_rejects_bad_input_before_any_change(play, extra, message):
    # Run only the role under test, so that no other role converges first.
    role = "traefik" if any(k.startswith("traefik_") for k in extra) else "onepassword"
    run = play(extra, "--tags", role)
    assert run.rc != 0, run.explain()
    assert run.changed == 0, run.explain()
    assert message in run.output, run.explain()
    # Failures while handling secrets must not reveal them.
    assert FAKE_TOKEN not in run.output
    assert FAKE_CREDENTIALS["uniqueKey"]["k"] not in run.output

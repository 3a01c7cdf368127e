"""Inventory validation and expansion: a table of bad inputs, each named by app and field."""

import copy

import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import estate, naming
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import ValidationError

SETTINGS = {"domain": "hansenexus.dev", "version": "2f8e7ad", "canary": "planex"}

ESTATE = [
    {"name": "calnexus"},
    {"name": "lexilink", "environments": {
        "production": {"api_host": "api.lexilink.app"},
        "staging": {"namespace": "hn-staging"},
        "preview": {"namespace": "hn-preview", "replicas": 0},
    }},
    {"name": "planex"},
    {"name": "nexus-lms"},
    {"name": "archus"},
    {"name": "bgs-service"},
    {"name": "elbe-akustik", "placement": "hub"},
]


def with_app(**fields):
    apps = copy.deepcopy(ESTATE)
    apps.append(dict({"name": "newapp"}, **fields))
    return apps


def with_env(env="production", **fields):
    return with_app(environments={env: fields})


# (case id, apps, settings overrides, expected fragments of one problem line)
BAD = [
    ("duplicate app", ESTATE + [{"name": "planex"}], {}, ["app 'planex'", "field 'name'", "duplicate"]),
    ("invalid dns name", with_app(name="New_App"), {}, ["app 'New_App'", "field 'name'", "DNS label"]),
    ("uppercase name", with_app(name="NewApp"), {}, ["app 'NewApp'", "field 'name'"]),
    ("name too long", with_app(name="a" * 46), {}, ["app '" + "a" * 46 + "'", "field 'name'", "limit is 52"]),
    ("unknown environment", with_app(environments={"prod": {}}), {},
     ["app 'newapp'", "field 'environments.prod'", "unknown environment"]),
    ("bad domain", ESTATE, {"domain": "not a domain"}, ["field 'domain'", "not a valid domain"]),
    ("missing tag", ESTATE, {"version": ""}, ["app 'planex' environment 'production'", "field 'version'", "pinned"]),
    ("latest tag", with_app(version="latest"), {}, ["app 'newapp'", "field 'version'", "latest"]),
    ("malformed tag", with_app(version="v1 beta"), {}, ["app 'newapp'", "field 'version'", "not a valid image tag"]),
    ("secret with newline", with_env(instance_secret="ab" * 32 + "\n"), {},
     ["app 'newapp' environment 'production'", "field 'instance_secret'", "newline"]),
    ("secret too short", with_env(instance_secret="ab" * 31), {},
     ["field 'instance_secret'", "64 lowercase hex"]),
    ("conflicting hosts", with_env(api_host="api.lexilink.app"), {},
     ["app 'newapp' environment 'production'", "field 'api_host'", "already used by app 'lexilink'"]),
    ("negative replicas", with_env(replicas=-1), {}, ["app 'newapp'", "field 'replicas'", "negative"]),
    ("two replicas", with_env(replicas=2), {}, ["field 'replicas'", "one replica only"]),
    ("replicas not a number", with_env(replicas="one"), {}, ["field 'replicas'", "0 or 1"]),
    ("unknown app field", with_app(storage="10Gi"), {}, ["app 'newapp'", "field 'storage'", "unknown field"]),
    ("unknown env field", with_env(replica=1), {}, ["environment 'production'", "field 'replica'", "unknown field"]),
    ("bad placement", with_app(placement="swarm"), {}, ["app 'newapp'", "field 'placement'"]),
    ("bad storage size", with_app(storage_size="ten gigs"), {}, ["field 'storage_size'", "quantity"]),
    ("bad cpu request", with_app(resources={"requests": {"cpu": "lots"}}), {},
     ["field 'resources.requests.cpu'", "quantity"]),
    ("request above limit", with_app(resources={"requests": {"memory": "4Gi"}, "limits": {"memory": "1Gi"}}), {},
     ["field 'resources.requests.memory'", "above its limit"]),
    ("managed env override", with_app(extra_env={"INSTANCE_SECRET": "x"}), {},
     ["field 'extra_env.INSTANCE_SECRET'", "cannot be overridden"]),
    ("flag set to false", with_app(extra_env={"DISABLE_BEACON": "false"}), {},
     ["field 'extra_env.DISABLE_BEACON'", "remove the variable"]),
    ("bad env var name", with_app(extra_env={"1BAD": "x"}), {}, ["field 'extra_env.1BAD'"]),
    ("bad namespace", with_env(namespace="Convex_NS"), {}, ["field 'namespace'", "not a valid namespace"]),
    ("bad custom host", with_env(api_host="api..example"), {}, ["field 'api_host'", "not a valid host"]),
    ("canary missing", ESTATE, {"canary": "nosuchapp"}, ["field 'canary'", "nosuchapp"]),
    ("canary on hub", ESTATE, {"canary": "elbe-akustik"}, ["app 'elbe-akustik'", "canary must run on k3s"]),
    ("over node capacity", ESTATE, {"node_capacity": {"cpu": "1", "memory": "2Gi"}},
     ["field 'resources.requests.cpu'", "more than the node"]),
    ("instance name with pipe", with_env(instance_name="a|b"), {}, ["field 'instance_name'"]),
    ("apps not a list", {"planex": {}}, {}, ["field 'apps'", "must be a list"]),
    ("app without name", ESTATE + [{"placement": "k3s"}], {}, ["app #8", "field 'name'", "missing"]),
]


def test_production_estate_is_valid():
    assert estate.problems(ESTATE, SETTINGS) == []


@pytest.mark.parametrize("apps,overrides,fragments", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_named(apps, overrides, fragments):
    found = estate.problems(apps, dict(SETTINGS, **overrides))
    matching = [line for line in found if all(f in line for f in fragments)]
    assert matching, "no problem line contains %r in:\n%s" % (fragments, "\n".join(found))
    with pytest.raises(ValidationError):
        estate.expand(apps, dict(SETTINGS, **overrides))


def test_latest_allowed_explicitly():
    assert estate.problems(with_app(version="latest", allow_latest=True), SETTINGS) == []


def test_problems_never_contain_the_secret():
    secret = "Zz" * 32
    found = estate.problems(with_env(instance_secret=secret), SETTINGS)
    assert found and not any(secret in line for line in found)


def test_expansion_of_the_production_estate():
    instances = estate.expand(ESTATE, SETTINGS)
    ids = [(i["app"], i["env"], i["namespace"], i["placement"]) for i in instances]
    assert ("lexilink", "production", "convex", "k3s") in ids
    assert ("lexilink", "staging", "hn-staging", "k3s") in ids
    assert ("lexilink", "preview", "hn-preview", "k3s") in ids
    assert ("elbe-akustik", "production", "convex", "hub") in ids
    assert len(instances) == 9
    by_id = {(i["app"], i["env"]): i for i in instances}
    lexi = by_id[("lexilink", "production")]
    assert lexi["hosts"]["api"] == "api.lexilink.app"
    assert lexi["origins"]["cloud"] == "https://api.lexilink.app"
    assert lexi["secret_name"] == "convex-lexilink-production"
    preview = by_id[("lexilink", "preview")]
    assert preview["replicas"] == 0 and preview["name"] == "convex-lexilink-preview"
    planex = by_id[("planex", "production")]
    assert planex["hosts"] == {
        "api": "convex-planex.hansenexus.dev",
        "site": "convex-planex-site.hansenexus.dev",
        "dashboard": "convex-planex-dashboard.hansenexus.dev",
    }
    assert planex["backend_image"].endswith(":2f8e7ad") and planex["dashboard_image"].endswith(":2f8e7ad")
    assert planex["canary"] is True
    assert "instance_secret" not in planex


def test_placement_filter_and_overrides():
    apps = [{"name": "planex", "version": "abc", "environments": {"production": {"version": "def"}}},
            {"name": "hubapp", "placement": "hub"}]
    k3s = estate.expand(apps, SETTINGS, "k3s")
    assert [i["app"] for i in k3s] == ["planex"]
    assert k3s[0]["version"] == "def"
    assert [i["app"] for i in estate.expand(apps, SETTINGS, "hub")] == ["hubapp"]


def test_extra_env_merges_app_then_environment():
    apps = [{"name": "planex", "extra_env": {"A": "1", "B": "2"},
             "environments": {"production": {"extra_env": {"B": "3"}}}}]
    assert estate.expand(apps, SETTINGS)[0]["extra_env"] == {"A": "1", "B": "3"}


def test_fixed_secrets_stay_out_of_instances():
    secret = "ab" * 32
    apps = [{"name": "planex", "environments": {"production": {"instance_secret": secret}}}]
    assert estate.fixed_secrets(apps) == {"convex-planex-production": secret}
    assert all(secret not in str(i) for i in estate.expand(apps, SETTINGS))


def test_rollout_order_canary_first_then_inventory_order():
    instances = estate.expand(ESTATE, SETTINGS, "k3s")
    order = [(i["app"], i["env"]) for i in estate.rollout_order(instances, "planex")]
    assert order[0] == ("planex", "production")
    assert order[1:4] == [("calnexus", "production"), ("lexilink", "production"), ("lexilink", "staging")]
    only = estate.rollout_order(instances, "planex", ["archus", "planex"])
    assert [i["app"] for i in only] == ["planex", "archus"]


@pytest.mark.parametrize("value,expected", [
    ("250m", 0.25), ("2Gi", 2 * 2 ** 30), ("1G", 1e9), (8, 8.0), ("0.5", 0.5), ("bad", None), (-1, None),
    (True, None),
])
def test_quantity(value, expected):
    assert estate.quantity(value) == expected


def test_every_derived_name_comes_from_naming():
    inst = estate.expand([{"name": "planex"}], SETTINGS)[0]
    assert inst["name"] == naming.base_name("planex", "production")
    assert inst["claim_name"] == naming.claim_name("planex", "production")
    assert inst["data_path"] == "/mnt/data/convex/convex/convex-planex"


def test_analyse_gives_problems_or_instances_from_one_walk():
    good = estate.analyse(copy.deepcopy(ESTATE), SETTINGS, "k3s")
    assert good["problems"] == []
    assert [i["id"] for i in good["instances"]] == [i["id"] for i in estate.expand(copy.deepcopy(ESTATE), SETTINGS, "k3s")]
    assert all(i["placement"] == "k3s" for i in good["instances"])
    bad = estate.analyse(copy.deepcopy(ESTATE) + [{"name": "Bad_Name"}], SETTINGS, "k3s")
    assert bad["instances"] == [] and any("Bad_Name" in p for p in bad["problems"])

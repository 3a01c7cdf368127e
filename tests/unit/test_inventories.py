"""Both inventories describe a valid estate, and production matches ADR-0008."""

import os

import yaml

from ansible_collections.hansenexus.platform.plugins.module_utils import estate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(name):
    with open(os.path.join(ROOT, "inventories", name, "group_vars", "all", "estate.yml")) as handle:
        return yaml.safe_load(handle)


def settings(data):
    return {"domain": data["platform_domain"], "version": data["platform_convex_version"],
            "canary": data["platform_canary"]}


def test_production_estate_is_adr_0008():
    data = load("production")
    assert estate.problems(data["platform_apps"], settings(data)) == []
    instances = estate.expand(data["platform_apps"], settings(data))
    by_id = {(i["app"], i["env"]): i for i in instances}
    assert sorted({i["app"] for i in instances}) == sorted(
        ["calnexus", "lexilink", "planex", "nexus-lms", "archus", "bgs-service", "elbe-akustik"])
    assert by_id[("lexilink", "production")]["hosts"]["api"] == "api.lexilink.app"
    assert by_id[("lexilink", "staging")]["namespace"] == "hn-staging"
    assert by_id[("lexilink", "preview")]["namespace"] == "hn-preview"
    assert by_id[("lexilink", "preview")]["replicas"] == 0
    assert by_id[("elbe-akustik", "production")]["placement"] == "hub"
    assert by_id[("planex", "production")]["canary"] is True
    assert by_id[("calnexus", "production")]["hosts"]["api"] == "convex-calnexus.hansenexus.dev"
    assert data["platform_secret_store"] == "onepassword"


def test_local_inventory_is_the_production_shape():
    local, prod = load("local"), load("production")
    assert estate.problems(local["platform_apps"], settings(local)) == []
    assert [a["name"] for a in local["platform_apps"]] == [a["name"] for a in prod["platform_apps"]]
    assert local["platform_secret_store"] == "kubernetes"

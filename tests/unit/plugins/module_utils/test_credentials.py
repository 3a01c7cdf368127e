"""Credentials are planned before they are stored, and an instance secret is never replaced."""

import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys, credentials
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import ValidationError

NAME = "convex-planex-production"


def fresh():
    values, changes = credentials.plan_credentials(None, NAME, "admin")
    return values, changes


def test_empty_store_gets_everything():
    values, changes = fresh()
    assert set(values) == {"instance_secret", "admin_key", "dashboard_username", "dashboard_password",
                           "dashboard_users"}
    convex_keys.validate_instance_secret(values["instance_secret"])
    assert convex_keys.check_admin_key(values["admin_key"], NAME, values["instance_secret"]).valid
    assert values["admin_key"].startswith(NAME + "|")
    assert values["dashboard_users"].startswith("admin:$2")
    assert credentials.users_line_matches(values["dashboard_users"], "admin", values["dashboard_password"])
    assert "instance secret created" in changes


def test_complete_store_is_kept_as_is():
    values, _changes = fresh()
    again, changes = credentials.plan_credentials(values, NAME, "admin")
    assert changes == []
    assert again == values


def test_invalid_admin_key_is_reissued_but_secret_kept():
    values, _changes = fresh()
    other = convex_keys.generate_instance_secret()
    stale = dict(values, admin_key=convex_keys.issue_admin_key(NAME, other))
    again, changes = credentials.plan_credentials(stale, NAME, "admin")
    assert again["instance_secret"] == values["instance_secret"]
    assert again["admin_key"] != stale["admin_key"]
    assert convex_keys.check_admin_key(again["admin_key"], NAME, values["instance_secret"]).valid
    assert any("re-issued" in c for c in changes)


def test_renamed_instance_gets_a_key_for_its_new_name():
    values, _changes = fresh()
    again, changes = credentials.plan_credentials(values, "convex-planex-renamed", "admin")
    assert again["instance_secret"] == values["instance_secret"]
    assert again["admin_key"].startswith("convex-planex-renamed|")
    assert changes


def test_garbage_admin_key_is_reissued():
    values, _changes = fresh()
    again, changes = credentials.plan_credentials(dict(values, admin_key="not a key"), NAME, "admin")
    assert convex_keys.check_admin_key(again["admin_key"], NAME, values["instance_secret"]).valid
    assert changes


def test_malformed_stored_secret_is_an_error_not_a_new_secret():
    values, _changes = fresh()
    with pytest.raises(ValidationError) as err:
        credentials.plan_credentials(dict(values, instance_secret=values["instance_secret"] + "\n"), NAME, "admin",
                                     where="app 'planex' environment 'production'")
    assert "app 'planex' environment 'production'" in str(err.value)
    assert "never replaced" in str(err.value)
    assert values["instance_secret"] not in str(err.value)


def test_inventory_secret_that_differs_from_the_store_is_refused():
    values, _changes = fresh()
    with pytest.raises(ValidationError) as err:
        credentials.plan_credentials(values, NAME, "admin", wanted_secret=convex_keys.generate_instance_secret())
    assert "refusing to replace" in str(err.value)


def test_inventory_secret_is_used_for_an_empty_store():
    wanted = convex_keys.generate_instance_secret()
    values, _changes = credentials.plan_credentials(None, NAME, "admin", wanted_secret=wanted)
    assert values["instance_secret"] == wanted


def test_changed_password_is_rehashed():
    values, _changes = fresh()
    again, changes = credentials.plan_credentials(dict(values, dashboard_password="new-password"), NAME, "admin")
    assert credentials.users_line_matches(again["dashboard_users"], "admin", "new-password")
    assert changes == ["dashboard password hashed"]


def test_secret_object_round_trip():
    values, _changes = fresh()
    inst = {"app": "planex", "env": "production", "namespace": "convex", "secret_name": "convex-planex-production"}
    obj = credentials.secret_object(inst, values)
    assert obj["metadata"]["namespace"] == "convex"
    assert set(obj["data"]) == {"instance-secret", "admin-key", "dashboard-username", "dashboard-password", "users"}
    assert credentials.decode_secret(obj) == values


def test_onepassword_translation_round_trip():
    values, _changes = fresh()
    fields = credentials.onepassword_fields(values)
    assert all(f["generate_value"] == "never" for f in fields)
    item = {"op_item": {"title": "convex-planex-production",
                        "fields": {f["label"]: {"value": f["value"]} for f in fields}}}
    missing = {"op_item": {}, "msg": "Item not found", "item": {"secret_name": "convex-x-production"}}
    assert credentials.from_onepassword([item, missing]) == {"convex-planex-production": values}


def test_plan_for_an_external_store_returns_encoded_complete_values():
    import base64
    import json

    values, _changes = fresh()
    inst = {"app": "planex", "env": "production", "namespace": "convex", "secret_name": "convex-planex-production",
            "instance_name": NAME}
    result = credentials.plan_for_store(inst, dict(values, admin_key="stale"), "admin")
    decoded = json.loads(base64.b64decode(result["values_b64"]))
    assert decoded["instance_secret"] == values["instance_secret"]
    assert decoded["dashboard_users"] == values["dashboard_users"]
    assert decoded["admin_key"] != "stale"
    assert result["changed"] and result["action"] == "update"
    assert "values" not in result


def test_rebuild_refuses_to_create_an_instance_secret():
    with pytest.raises(ValidationError) as err:
        credentials.plan_credentials({}, "convex-planex", "admin", where="app 'planex' environment 'production'",
                                     generate=False)
    assert "app 'planex' environment 'production'" in str(err.value)
    assert "convex_apps_instance_secrets" in str(err.value)


def test_rebuild_completes_a_store_that_kept_its_secret():
    secret = convex_keys.generate_instance_secret()
    values, changes = credentials.plan_credentials({"instance_secret": secret}, "convex-planex", "admin",
                                                   generate=False)
    assert values["instance_secret"] == secret
    assert "admin key issued" in changes


def test_rebuild_may_use_a_pinned_secret():
    secret = convex_keys.generate_instance_secret()
    values, _changes = credentials.plan_credentials({}, "convex-planex", "admin", wanted_secret=secret,
                                                    generate=False)
    assert values["instance_secret"] == secret


def test_hash_of_another_bcrypt_cost_is_rehashed_once():
    import bcrypt

    values, _changes = credentials.plan_credentials({}, "convex-planex", "admin")
    slow = bcrypt.hashpw(values["dashboard_password"].encode(), bcrypt.gensalt(rounds=10)).decode()
    stored = dict(values, dashboard_users="admin:" + slow)
    again, changes = credentials.plan_credentials(stored, "convex-planex", "admin")
    assert changes == ["dashboard password hashed"]
    assert again["dashboard_users"].startswith("admin:$2b$%02d$" % credentials.BCRYPT_ROUNDS)
    assert credentials.plan_credentials(again, "convex-planex", "admin")[1] == []

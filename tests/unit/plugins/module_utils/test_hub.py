"""Hub host ports: kept by existing projects, free slots for new ones, pins win, collisions refused."""

import base64

from ansible_collections.hansenexus.platform.plugins.filter.estate import convex_hub_ports
from ansible_collections.hansenexus.platform.plugins.module_utils import hub

BASE = {"api": 3210, "site": 3211, "dashboard": 6791}
PROXY = 6790


def slot(n):
    return {"api": 3210 + 10 * n, "site": 3211 + 10 * n, "dashboard": 6791 + 10 * n, "proxy": 6790 + 10 * n}


def compose(api, site, dashboard=None, proxy=None):
    """A project file shaped like roles/convex_hub/templates/compose.yaml.j2 renders it."""
    text = ('name: "p"\nservices:\n  backend:\n    image: "x"\n    ports:\n'
            '      - "127.0.0.1:%d:3210"\n      - "127.0.0.1:%d:3211"\n' % (api, site))
    if dashboard:
        text += '  dashboard:\n    image: "d"\n    ports:\n      - "127.0.0.1:%d:6791"\n' % dashboard
    if proxy:
        text += ('  dashboard:\n    image: "d"\n  dashboard-auth:\n    image: "c"\n    ports:\n'
                 '      - "127.0.0.1:%d:8080"\n' % proxy)
    return text


def assign(projects, current=None, pinned=None):
    return hub.assign_ports(projects, BASE, 10, PROXY, pinned, current)


def test_a_fresh_hub_numbers_projects_by_position():
    ports, problems = assign(["a", "b", "c"])
    assert problems == [] and ports == {"a": slot(0), "b": slot(1), "c": slot(2)}


def test_reordering_and_inserting_apps_moves_no_existing_project():
    current = {"a": hub.published_ports(compose(3210, 3211, dashboard=6791)),
               "b": hub.published_ports(compose(3220, 3221, proxy=6800))}
    ports, problems = assign(["new", "b", "a"], current)
    assert problems == []
    assert ports["a"] == slot(0) and ports["b"] == slot(1)
    assert ports["new"] == slot(2)   # the first slot no existing project holds


def test_a_removed_app_frees_its_slot_for_the_next_new_one():
    current = {"c": hub.published_ports(compose(3230, 3231))}
    ports, problems = assign(["c", "d", "e"], current)
    assert problems == [] and ports == {"c": slot(2), "d": slot(0), "e": slot(1)}


def test_pins_win_and_their_ports_are_not_handed_out_again():
    ports, problems = assign(["a", "b"], pinned={"b": slot(0)})
    assert problems == [] and ports == {"b": slot(0), "a": slot(1)}
    partly, problems = assign(["a"], pinned={"a": {"api": 4000}})
    assert problems == [] and partly["a"] == dict(slot(0), api=4000)


def test_two_projects_on_one_port_are_refused_naming_both():
    current = {"a": hub.published_ports(compose(3210, 3211))}
    _ports, problems = assign(["a", "b"], current, pinned={"b": {"api": 3210}})
    assert len(problems) == 1
    assert "a (api) and b (api)" in problems[0] and "3210" in problems[0] and "'ports'" in problems[0]


def test_ports_are_read_from_short_and_long_syntax_and_odd_files_are_ignored():
    long_form = ("services:\n  backend:\n    ports:\n      - {target: 3210, published: '3250', host_ip: 127.0.0.1}\n"
                 "      - {target: 3211, published: 3251}\n  other:\n    ports: ['9000:3210']\n")
    assert hub.published_ports(long_form) == {"api": 3250, "site": 3251}
    assert hub.published_ports("not: [valid") == {}
    assert hub.published_ports("") == {}


def test_the_filter_reads_slurped_files_and_skips_missing_ones():
    slurped = [{"item": "a", "content": base64.b64encode(compose(3240, 3241).encode()).decode()},
               {"item": "b", "failed": True, "msg": "file not found"}]
    plan = convex_hub_ports(slurped, ["b", "a"], BASE, 10, PROXY, {})
    assert plan["problems"] == [] and plan["ports"] == {"a": slot(3), "b": slot(0)}

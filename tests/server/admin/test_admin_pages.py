"""The admin pages as HTML: the notice's rules, the fixed toggle, the collectors, the assets;
and the dashboard's data route against stored rows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from usage_collection.admin.dashboard import chart_js_version
from usage_collection.admin.dashboard_data import dashboard_data
from e2e.telemetry_support import seed_usage

XSRF = {"kbn-xsrf": "test"}
NOTICE_ID = 'id="telemetry-notice"'


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/usage/settings", "/usage/dashboard"])
def test_notice_shows_until_the_admin_dismisses_it(client, path):
    assert NOTICE_ID in page(client, path)
    client.put("/api/telemetry/v2/userHasSeenNotice", headers=XSRF)
    assert NOTICE_ID not in page(client, path)


@pytest.mark.parametrize("enabled", [True, False])
def test_notice_goes_once_the_admin_chooses(client, enabled):
    client.post("/api/telemetry/v2/optIn", json={"enabled": enabled}, headers=XSRF)
    assert NOTICE_ID not in page(client, "/usage/settings")


@pytest.mark.parametrize("config", [{"USAGE_TELEMETRY_BANNER": False},
                                   {"USAGE_TELEMETRY_OPT_IN": False, "USAGE_TELEMETRY_ALLOW_CHANGING": False}])
def test_no_notice_when_turned_off_or_nothing_to_choose(make_app, config):
    assert NOTICE_ID not in page(make_app(**config).test_client(), "/usage/dashboard")


def test_notice_returns_after_an_upgrade_for_an_admin_who_said_no(make_app):
    old = make_app(USAGE_TELEMETRY_VERSION="1.2.0").test_client()
    old.post("/api/telemetry/v2/optIn", json={"enabled": False}, headers=XSRF)
    old.put("/api/telemetry/v2/userHasSeenNotice", headers=XSRF)
    assert NOTICE_ID not in page(old, "/usage/settings")
    assert NOTICE_ID in page(make_app(USAGE_TELEMETRY_VERSION="1.3.0").test_client(), "/usage/settings")


def test_the_notice_is_never_on_the_public_loader(client):
    loader = client.get("/usage/usage.js")
    assert "Help improve" not in loader.get_data(as_text=True)


def test_fixed_opt_in_disables_the_switch(make_app):
    html = page(make_app(USAGE_TELEMETRY_OPT_IN=True, USAGE_TELEMETRY_ALLOW_CHANGING=False).test_client(),
                "/usage/settings")
    switch = html[html.index('id="telemetry-opt-in"'):html.index("aria-describedby")]
    assert "checked" in switch and "disabled" in switch
    assert 'id="telemetry-fixed"' in html


def test_settings_lists_every_usage_collector_and_the_real_payload(client, app):
    html = page(client, "/usage/settings")
    for collector in ("application_usage", "ui_counters", "ui_metric", "usage_counters", "usage_collector_stats"):
        assert f'data-collector="{collector}"' in html
    assert "Minutes the view was on screen" in html  # a schema description, not just a name
    start = html.index('id="example-payload" tabindex="0">') + len('id="example-payload" tabindex="0">')
    payload = json.loads(html[start:html.index("</pre>", start)].replace("&#34;", '"').replace("&amp;", "&")
                         .replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'"))
    assert payload["clusterUuid"] == app.extensions["usage_collection"].instance_uuid


def test_browser_sender_is_on_admin_pages_only_when_it_has_somewhere_to_send(make_app):
    without = page(make_app().test_client(), "/usage/settings")
    assert "sender_boot.py" not in without
    html = page(make_app("with.db", USAGE_TELEMETRY_URL="http://127.0.0.1:9/i").test_client(), "/usage/settings")
    assert "sender_boot.py" in html and "/usage/brython/" in html and "usage_reporter." in html
    server_mode = make_app("server.db", USAGE_TELEMETRY_URL="http://127.0.0.1:9/i", USAGE_TELEMETRY_SEND_FROM="server")
    assert "sender_boot.py" not in page(server_mode.test_client(), "/usage/settings")


def test_chart_js_is_served_under_its_version_for_a_year(client, app):
    version = chart_js_version(app.config["USAGE_NODE_MODULES"])
    assert version, "node_modules/chart.js is missing: run scripts/setup"
    html = page(client, "/usage/dashboard")
    url = f"/usage/vendor/chart.js/{version}/chart.umd.min.js"
    assert url in html
    with client.get(url) as response:
        assert response.status_code == 200 and b"Chart" in response.data[:2000]
        assert "immutable" in response.headers["Cache-Control"]
    stale = client.get("/usage/vendor/chart.js/0.0.1/chart.umd.min.js")
    assert stale.status_code == 404 and version in stale.get_json()["message"]


@pytest.mark.parametrize(("path", "status"), [
    ("/usage/admin-static/dashboard/admin.css", 200),
    ("/usage/admin-static/telemetry/sender_boot.py", 200),
    ("/usage/admin-static/demo/index.html", 404),
    ("/usage/admin-static/telemetry/..%2f..%2fpyproject.toml", 404),
    ("/usage/admin-static/telemetry/missing.js", 404),
])
def test_admin_assets(client, path, status):
    with client.get(path) as response:
        assert response.status_code == status


@pytest.mark.parametrize("days", ["0", "91", "-1", "abc", "7.5", "²", "٣", "%EF%BC%97"])  # Unicode digits too
def test_dashboard_data_refuses_bad_ranges(client, days):
    response = client.get(f"/usage/dashboard/data?days={days}")
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("[request query.days]: expected a whole number from 1 to 90")


def test_dashboard_data_without_data(client):
    data = client.get("/usage/dashboard/data?days=7").get_json()
    assert len(data["days"]) == 7
    assert data["ui_counters"] == {"per_app": [], "apps": [], "per_event": {}, "top_events": [], "total": 0}
    assert data["application_usage"]["views"] == [] and data["application_usage"]["apps"] == []
    assert data["intake"] is None


def test_dashboard_data_sums_what_was_stored(app, clock):
    seed_usage(app.config["USAGE_DB"], clock.now, days=10, snapshots=True)
    state = app.extensions["usage_collection"]
    db = state.storage
    data = dashboard_data(db, clock.now, 7, intake_enabled=True)
    total_7 = db.query("SELECT SUM(count) FROM usage_counters WHERE source = 'ui' AND day >= ?",
                       [(clock.now - timedelta(days=6)).date().isoformat()])[0][0]
    ui = data["ui_counters"]
    assert ui["total"] == total_7 == sum(sum(series["data"]) for series in ui["per_app"])
    assert [series["name"] for series in ui["per_app"]][0] == "discover"  # biggest first
    assert sum(sum(s["data"]) for s in ui["per_event"]["maps"]) == \
        next(sum(s["data"]) for s in ui["per_app"] if s["name"] == "maps")
    assert ui["top_events"][0]["total"] >= ui["top_events"][-1]["total"]
    usage = data["application_usage"]
    assert {(v["app"], v["view"]) for v in usage["views"]} >= {("discover", "main"), ("discover", "doc_viewer")}
    assert data["intake"]["instances"] == 3
    assert all(len(series["data"]) == 7 for series in data["intake"]["per_instance"])

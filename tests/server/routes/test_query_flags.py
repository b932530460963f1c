"""One reading of boolean query flags for every route (``routes/checks.query_flag``), as
Kibana reads ``/api/stats``' ``extended`` (``schema.boolean``, or ``''`` meaning true): a bare
``?flag`` or ``true`` turns it on, ``false`` off, and anything else, ``1``, ``0`` and ``yes``
included, is a 400 naming the flag. Checked on ``?dry_run=`` of the report route (what is
stored) and ``?extended=`` of ``/api/stats`` (whether ``usage`` is in the answer)."""

from __future__ import annotations

import pytest

from usage_collection.storage import open_storage

URL = "/api/ui_counters/_report"
XSRF = {"kbn-xsrf": "true"}
REPORT = {"report": {"reportVersion": 3, "uiCounter": {
    "shop-click-buy": {"key": "shop-click-buy", "appName": "shop", "eventName": "buy", "type": "click", "total": 5}}}}
REFUSED = ["1", "0", "yes", "maybe"]


def stored_clicks(db_url: str) -> list[tuple]:
    storage = open_storage(str(db_url))
    try:
        return storage.query("SELECT SUM(count) FROM ui_metric")
    finally:
        storage.close()


@pytest.mark.parametrize("value", ["", "true", "TRUE", " true "])
def test_dry_run_on_validates_and_stores_nothing(client, db_url, value):
    response = client.post(f"{URL}?dry_run={value}", json=REPORT, headers=XSRF)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok", "dry_run": True})
    assert stored_clicks(db_url) == [(None,)]


@pytest.mark.parametrize("query", ["?dry_run=false", "?dry_run=False", ""])
def test_dry_run_off_stores_the_report(client, db_url, query):
    response = client.post(URL + query, json=REPORT, headers=XSRF)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert stored_clicks(db_url) == [(5,)]


@pytest.mark.parametrize("value", REFUSED)
def test_dry_run_other_values_are_a_400_naming_the_flag_and_store_nothing(client, db_url, value):
    response = client.post(f"{URL}?dry_run={value}", json=REPORT, headers=XSRF)
    assert response.status_code == 400
    assert response.get_json()["message"] == (f"[request query.dry_run]: expected value of type [boolean] but got "
                                              f"'{value}': use true, false or an empty value")
    assert stored_clicks(db_url) == [(None,)]


@pytest.mark.parametrize("value", ["", "true", "True"])
def test_extended_on_adds_usage(client, value):
    body = client.get(f"/api/stats?extended={value}&legacy").get_json()
    assert "ui_counters" in body["usage"] and "clusterUuid" in body


@pytest.mark.parametrize("query", ["?extended=false", "?extended=FALSE", ""])
def test_extended_off_leaves_usage_out(client, query):
    body = client.get(f"/api/stats{query}").get_json()
    assert "usage" not in body and "clusterUuid" not in body and body["process"]


@pytest.mark.parametrize("value", REFUSED)
def test_extended_other_values_are_a_400_naming_the_flag(client, value):
    response = client.get(f"/api/stats?extended={value}")
    assert response.status_code == 400
    assert response.get_json()["message"] == (f"[request query.extended]: expected value of type [boolean] but got "
                                              f"'{value}': use true, false or an empty value")

"""The fakes' model of the receiver (``counted``) against the receiver itself: the client
tests trust ``counted`` to say what the server would store, so it must count the way the
server does (a reportId once; a report without one every time)."""

from pathlib import Path

from client.fakes import counted


def report(report_id, event, total, minutes=0.0, clicks=0):
    body = {"reportVersion": 3, "uiCounter": {f"shop-click-{event}": {
        "key": f"shop-click-{event}", "appName": "shop", "eventName": event, "type": "click", "total": total}}}
    if clicks:
        body["application_usage"] = {"shop-main": {"appId": "shop", "viewId": "main", "minutesOnScreen": minutes,
                                                   "numberOfClicks": clicks}}
    if report_id is not None:
        body["reportId"] = report_id
    return body


# A beacon and its resend (one id), a second report, and a Kibana-style report without an id sent twice.
SENT = [report("r1", "buy", 2, 1.5, 4), report("r1", "buy", 2, 1.5, 4), report("r2", "buy", 1),
        report(None, "kibana", 3, 0.5, 1), report(None, "kibana", 3, 0.5, 1)]


def test_counted_is_written_out_by_hand():
    assert counted(SENT[:2], SENT[2:]) == ({"shop-click-buy": 3, "shop-click-kibana": 6}, {"shop-main": (2.5, 6)})


def test_counted_is_what_the_receiver_stores(tmp_path: Path):
    from usage_collection import create_app

    app = create_app({"TESTING": True, "USAGE_DB": str(tmp_path / "fakes.db"), "USAGE_ROLLUP_INTERVAL_S": 0})
    try:
        client = app.test_client()
        for body in SENT:
            assert client.post("/api/ui_counters/_report", json={"report": body},
                               headers={"kbn-xsrf": "t"}).status_code == 200
        usage = client.get("/api/stats?extended=true").get_json()["usage"]
    finally:
        app.extensions["usage_collection"].close()
    stored = {f"shop-click-{e['event_name']}": e["total"] for e in usage["ui_counters"]["daily_events"]}
    main = usage["application_usage"]["shop"]
    assert (stored, {"shop-main": (main["minutes_on_screen_total"], main["clicks_total"])}) == counted(SENT)

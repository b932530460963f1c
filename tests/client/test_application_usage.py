"""ApplicationUsageTracker: minutes on screen and clicks per app and sub-view."""

from client.fakes import Harness, raises


def usage_after_flush(harness):
    """Flush now and return the sent report's application_usage as {view_id: (minutes, clicks)}."""
    harness.reporter.flush()
    report = harness.transport.reports[-1]
    harness.transport.respond(200)
    return {entry["viewId"]: (round(entry["minutesOnScreen"], 6), entry["numberOfClicks"])
            for entry in report.get("application_usage", {}).values()}


def usage_entries(harness):
    """What the current buffer holds, as {(app_id, view_id): (minutes, clicks)}."""
    current = (harness.stored() or {}).get("current", {})
    return {(entry["appId"], entry["viewId"]): (round(entry["minutesOnScreen"], 6), entry["numberOfClicks"])
            for entry in current.get("application_usage", {}).values()}


def started(app_id="shop"):
    harness = Harness()
    harness.tracker.set_app_id(app_id)
    return harness


def test_minutes_grow_while_the_page_is_visible():
    harness = started()
    harness.clock.advance(90)
    assert usage_after_flush(harness) == {"main": (1.5, 0)}
    harness.clock.advance(30)
    assert usage_after_flush(harness) == {"main": (0.5, 0)}


def test_time_stops_while_hidden_and_resumes_when_visible():
    harness = started()
    harness.clock.advance(30)
    harness.tracker.pause()
    assert usage_entries(harness) == {("shop", "main"): (0.5, 0)}  # hiding reports the time so far
    harness.clock.advance(600)
    assert usage_after_flush(harness) == {"main": (0.5, 0)}
    harness.tracker.resume()
    harness.clock.advance(60)
    assert usage_after_flush(harness) == {"main": (1.0, 0)}


def test_pause_and_resume_twice_change_nothing_more():
    harness = started()
    harness.clock.advance(60)
    harness.tracker.pause()
    harness.tracker.pause()
    harness.clock.advance(60)
    harness.tracker.resume()
    harness.tracker.resume()
    harness.clock.advance(60)
    assert usage_after_flush(harness) == {"main": (2.0, 0)}


def test_clicks_count_for_main_and_for_the_sub_views_clicked():
    harness = started()
    harness.tracker.track_view("cart")
    harness.tracker.click()
    harness.tracker.click(["cart"])
    harness.tracker.click(["cart"], include_main=False)
    harness.tracker.click(["main", "unknown"])
    assert usage_after_flush(harness) == {"main": (0.0, 3), "cart": (0.0, 2)}


def test_sub_views_are_timed_on_their_own():
    harness = started()
    harness.clock.advance(60)
    harness.tracker.track_view("cart")
    harness.clock.advance(30)
    assert usage_after_flush(harness) == {"main": (1.5, 0), "cart": (0.5, 0)}


def test_tracking_a_view_again_keeps_its_start():
    harness = started()
    harness.tracker.track_view("cart")
    harness.clock.advance(30)
    harness.tracker.track_view("cart")
    harness.clock.advance(30)
    assert usage_after_flush(harness)["cart"] == (1.0, 0)


def test_untrack_reports_the_view_and_stops_it():
    harness = started()
    harness.tracker.track_view("cart")
    harness.tracker.click(["cart"])
    harness.clock.advance(30)
    harness.tracker.untrack_view("cart")
    assert usage_entries(harness)[("shop", "cart")] == (0.5, 1)
    assert harness.tracker.tracked_views == ["main"]
    harness.clock.advance(30)
    harness.tracker.click(["cart"])
    harness.tracker.untrack_view("cart")  # not tracked any more: nothing happens
    assert usage_after_flush(harness) == {"main": (1.0, 2), "cart": (0.5, 1)}


def test_an_app_change_reports_the_old_app_and_restarts_for_the_new():
    harness = started("shop")
    harness.tracker.track_view("cart")
    harness.tracker.click(["cart"])
    harness.clock.advance(30)
    harness.tracker.set_app_id("blog")
    assert usage_entries(harness) == {("shop", "main"): (0.5, 1), ("shop", "cart"): (0.5, 1)}
    assert harness.tracker.tracked_views == ["main", "cart"]  # the open sub-view goes on, for blog
    harness.clock.advance(60)
    harness.tracker.click()
    harness.reporter.flush()
    [report] = harness.transport.reports
    assert {key: (round(entry["minutesOnScreen"], 6), entry["numberOfClicks"])
            for key, entry in report["application_usage"].items()} == {
        "shop-main": (0.5, 1), "shop-cart": (0.5, 1), "blog-main": (1.0, 1), "blog-cart": (1.0, 0)}


def test_setting_the_same_app_again_changes_nothing():
    harness = started()
    harness.clock.advance(30)
    harness.tracker.set_app_id("shop")
    assert usage_entries(harness) == {}
    harness.clock.advance(30)
    assert usage_after_flush(harness) == {"main": (1.0, 0)}


def test_time_is_folded_in_at_every_flush():
    harness = started()
    harness.run(30)  # the interval flush, with no app change, hide or unload
    [report] = harness.transport.reports
    assert round(report["application_usage"]["shop-main"]["minutesOnScreen"], 6) == 0.5
    harness.transport.respond(200)
    harness.run(30)
    assert round(harness.transport.reports[1]["application_usage"]["shop-main"]["minutesOnScreen"], 6) == 0.5


def test_a_beacon_includes_the_time_up_to_now():
    harness = started()
    harness.clock.advance(45)
    harness.reporter.flush_beacon()
    [report] = harness.transport.beacon_reports
    assert report["application_usage"]["shop-main"]["minutesOnScreen"] == 0.75


def test_views_with_no_time_and_no_clicks_are_not_reported():
    harness = started()
    harness.tracker.track_view("cart")
    harness.tracker.untrack_view("cart")
    harness.tracker.fold_elapsed()
    harness.tracker.pause()
    harness.clock.advance(60)
    harness.tracker.fold_elapsed()
    assert harness.stored() is None
    harness.reporter.flush()
    assert harness.transport.sent == []


def test_nothing_is_tracked_before_an_app_is_set():
    harness = Harness()
    harness.tracker.track_view("cart")
    harness.tracker.click(["cart"])
    harness.clock.advance(60)
    harness.tracker.fold_elapsed()
    assert harness.tracker.tracked_views == []
    assert harness.stored() is None


def test_a_clock_going_backwards_reports_no_negative_time():
    harness = started()
    harness.clock.advance(-120)
    harness.tracker.fold_elapsed()
    assert harness.stored() is None
    harness.clock.advance(30)
    assert usage_after_flush(harness) == {"main": (0.5, 0)}


def test_bad_app_and_view_ids_raise_value_error():
    harness = started()
    assert "must not contain" in str(raises(ValueError, harness.tracker.set_app_id, "a:b"))
    assert "must not be empty" in str(raises(ValueError, harness.tracker.set_app_id, ""))
    assert "must not be empty" in str(raises(ValueError, harness.tracker.track_view, ""))
    assert "must be a string" in str(raises(ValueError, harness.tracker.track_view, None))
    assert harness.tracker.app_id == "shop"


def test_opted_out_visitors_report_no_usage():
    harness = started()
    harness.reporter.opt_out()
    harness.clock.advance(60)
    harness.tracker.click()
    harness.run(60)
    harness.reporter.flush_beacon()
    assert harness.transport.sent == [] and harness.transport.beacons == []

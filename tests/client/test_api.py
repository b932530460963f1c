"""The module-level API: before and after install, track_application_view both ways."""

import usage_reporter
from client.fakes import Element, FakePage, Harness, raises
from usage_reporter import METRIC_TYPE, api


def fresh():
    """A page before the adapter boots: module state reset, a harness ready to install."""
    api._reset_state()
    harness = Harness()
    harness.tracker.set_app_id("shop")  # the adapter sets data-app-id before install
    page = FakePage(harness.tracker)
    return harness, page


def installed():
    harness, page = fresh()
    usage_reporter.install(harness.reporter, harness.tracker, page.listen_clicks)
    return harness, page


def sent_usage(harness):
    """Flush and return the sent report's application_usage as {key: (minutes, clicks)}."""
    harness.reporter.flush()
    report = harness.transport.reports[-1]
    harness.transport.respond(200)
    return {key: (round(entry["minutesOnScreen"], 6), entry["numberOfClicks"])
            for key, entry in report.get("application_usage", {}).items()}


def test_the_public_names_exist():
    for name in usage_reporter.__all__:
        assert hasattr(usage_reporter, name), name
    assert (METRIC_TYPE.CLICK, METRIC_TYPE.LOADED, METRIC_TYPE.COUNT) == ("click", "loaded", "count")


def test_calls_before_install_are_kept_and_moved_into_the_real_reporter():
    harness, _ = fresh()
    assert not usage_reporter.is_installed()
    usage_reporter.report_ui_counter("shop", METRIC_TYPE.LOADED, "home")
    usage_reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, ["buy", "buy"], count=2)
    usage_reporter.flush()  # nothing to send with before install
    harness.reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy")  # the real one had its own
    usage_reporter.install(harness.reporter, harness.tracker)
    assert usage_reporter.is_installed()
    usage_reporter.flush()
    [report] = harness.transport.reports
    assert {key: entry["total"] for key, entry in report["uiCounter"].items()} == {
        "shop-click-buy": 5, "shop-loaded-home": 1}


def test_calls_after_install_go_to_the_installed_reporter():
    harness, _ = installed()
    usage_reporter.report_ui_counter("shop", METRIC_TYPE.COUNT, "items", count=3)
    assert harness.stored()["current"]["uiCounter"]["shop-count-items"]["total"] == 3
    usage_reporter.flush()
    assert len(harness.transport.sent) == 1


def test_bad_calls_raise_value_error_before_and_after_install():
    for setup in (fresh, installed):
        setup()
        error = raises(ValueError, usage_reporter.report_ui_counter, "a:b", METRIC_TYPE.CLICK, "x")
        assert str(error) == 'app_name "a:b" must not contain ":" (colons separate the parts of stored ids)'
        assert "count must be at least 1" in str(raises(ValueError, usage_reporter.report_ui_counter,
                                                         "a", "click", "x", 0))
        assert "must not contain" in str(raises(ValueError, usage_reporter.set_app_id, "x:y"))
        assert "view_id must not be empty" in str(raises(ValueError, usage_reporter.track_application_view, ""))


def test_report_ui_stats_counts_as_report_ui_counter_before_and_after_install():
    """OpenSearch Dashboards' ``reportUiStats(appName, type, eventNames, count?)``."""
    harness, _ = fresh()
    usage_reporter.report_ui_stats("shop", METRIC_TYPE.LOADED, "home")
    usage_reporter.install(harness.reporter, harness.tracker)
    usage_reporter.report_ui_stats("shop", METRIC_TYPE.COUNT, ["a", "b"], count=4)
    usage_reporter.report_ui_stats("shop", METRIC_TYPE.CLICK, "buy")
    usage_reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy")
    usage_reporter.flush()
    [report] = harness.transport.reports
    assert {key: entry["total"] for key, entry in report["uiCounter"].items()} == {
        "shop-loaded-home": 1, "shop-count-a": 4, "shop-count-b": 4, "shop-click-buy": 2}
    error = raises(ValueError, usage_reporter.report_ui_stats, "a:b", METRIC_TYPE.CLICK, "x")
    assert str(error) == 'app_name "a:b" must not contain ":" (colons separate the parts of stored ids)'


def test_set_app_id_switches_the_tracked_app():
    harness, _ = installed()
    harness.clock.advance(30)
    usage_reporter.set_app_id("blog")
    harness.clock.advance(60)
    assert sent_usage(harness) == {"shop-main": (0.5, 0), "blog-main": (1.0, 0)}


def test_an_early_set_app_id_is_applied_at_install():
    harness, _ = fresh()
    usage_reporter.set_app_id("blog")
    usage_reporter.install(harness.reporter, harness.tracker)
    assert harness.tracker.app_id == "blog"


def test_opt_out_and_opt_in():
    harness, _ = installed()
    usage_reporter.report_ui_counter("shop", "click", "buy")
    usage_reporter.opt_out()
    assert usage_reporter.is_opted_out()
    usage_reporter.report_ui_counter("shop", "click", "buy")
    usage_reporter.flush()
    assert harness.transport.sent == [] and harness.stored() is None
    usage_reporter.opt_in()
    assert not usage_reporter.is_opted_out()
    usage_reporter.report_ui_counter("shop", "click", "buy")
    usage_reporter.flush()
    assert harness.transport.reports[0]["uiCounter"]["shop-click-buy"]["total"] == 1


def test_an_early_opt_out_is_applied_at_install_and_drops_early_events():
    harness, _ = fresh()
    usage_reporter.report_ui_counter("shop", "click", "buy")
    usage_reporter.opt_out()
    assert usage_reporter.is_opted_out()
    usage_reporter.report_ui_counter("shop", "click", "buy")
    usage_reporter.install(harness.reporter, harness.tracker)
    assert usage_reporter.is_opted_out()
    assert harness.storage.data == {"usage_reporter.consent": "out"}
    usage_reporter.flush()
    assert harness.transport.sent == []


def test_track_application_view_as_a_context_manager():
    harness, page = installed()
    panel = Element("panel")
    with usage_reporter.track_application_view("cart", element=panel) as view:
        assert view.active and page.listening_on(panel) == 1
        harness.clock.advance(30)
        page.click(panel)
        page.click(panel)
        page.click()  # elsewhere on the page: main only
    assert not view.active and page.listening_on(panel) == 0
    assert harness.tracker.tracked_views == ["main"]
    page.click(panel)  # after the block: main only
    harness.clock.advance(30)
    assert sent_usage(harness) == {"shop-main": (1.0, 4), "shop-cart": (0.5, 2)}


def test_the_context_manager_ends_the_view_when_the_block_raises():
    harness, page = installed()
    panel = Element("panel")

    def failing_block():
        with usage_reporter.track_application_view("cart", panel):
            harness.clock.advance(6)
            raise KeyError("boom")

    raises(KeyError, failing_block)
    assert harness.tracker.tracked_views == ["main"] and page.listeners == []
    assert sent_usage(harness)["shop-cart"] == (0.1, 0)


def test_track_application_view_without_an_element_times_the_view():
    harness, page = installed()
    with usage_reporter.track_application_view("wizard"):
        harness.clock.advance(60)
        page.click()
    assert page.listeners == []
    assert sent_usage(harness) == {"shop-main": (1.0, 1), "shop-wizard": (1.0, 0)}


def test_nested_uses_of_one_view_end_when_the_last_one_does():
    harness, _ = installed()
    with usage_reporter.track_application_view("cart"):
        with usage_reporter.track_application_view("cart"):
            harness.clock.advance(30)
        assert "cart" in harness.tracker.tracked_views
        harness.clock.advance(30)
    assert "cart" not in harness.tracker.tracked_views
    assert sent_usage(harness)["shop-cart"] == (1.0, 0)


def test_track_application_view_as_a_decorator_of_render_functions():
    harness, page = installed()
    main = Element("main")
    rendered = []

    @usage_reporter.track_application_view("settings", element=main)
    def render_settings(user):
        """Show the settings."""
        rendered.append(("settings", user))
        return "settings html"

    @usage_reporter.track_application_view("profile", element=main)
    def render_profile():
        rendered.append(("profile",))

    assert render_settings.__name__ == "render_settings" and render_settings.__doc__ == "Show the settings."
    assert harness.tracker.tracked_views == ["main"]  # nothing until the function is called
    assert render_settings("ann") == "settings html"
    harness.clock.advance(60)
    page.click(main)
    render_profile()  # replaces settings in the same element
    assert harness.tracker.tracked_views == ["main", "profile"]
    assert page.listening_on(main) == 1
    harness.clock.advance(30)
    page.click(main)
    render_profile()  # rendering the same view again keeps it going
    harness.clock.advance(30)
    render_profile.stop_tracking()
    assert harness.tracker.tracked_views == ["main"] and page.listeners == []
    assert rendered == [("settings", "ann"), ("profile",), ("profile",)]
    assert sent_usage(harness) == {"shop-main": (2.0, 2), "shop-settings": (1.0, 1), "shop-profile": (1.0, 1)}


def test_decorated_views_in_different_elements_run_side_by_side():
    harness, _ = installed()

    @usage_reporter.track_application_view("sidebar", element=Element("side"))
    def render_sidebar():
        pass

    @usage_reporter.track_application_view("content", element=Element("content"))
    def render_content():
        pass

    render_sidebar()
    render_content()
    assert harness.tracker.tracked_views == ["main", "sidebar", "content"]


def test_a_render_function_that_raises_ends_its_view():
    harness, _ = installed()

    @usage_reporter.track_application_view("broken")
    def render_broken():
        raise RuntimeError("render failed")

    raises(RuntimeError, render_broken)
    assert harness.tracker.tracked_views == ["main"]


def test_a_view_opened_before_install_is_tracked_and_listened_to_at_install():
    harness, page = fresh()
    panel = Element("panel")
    view = usage_reporter.track_application_view("cart", panel)
    view.start()
    usage_reporter.install(harness.reporter, harness.tracker, page.listen_clicks)
    assert harness.tracker.tracked_views == ["main", "cart"]
    assert page.listening_on(panel) == 1
    harness.clock.advance(30)
    page.click(panel)
    view.stop()
    assert sent_usage(harness) == {"shop-main": (0.5, 1), "shop-cart": (0.5, 1)}


def test_a_view_survives_an_app_change_and_a_rerender_retracks_it():
    harness, _ = installed()

    @usage_reporter.track_application_view("list")
    def render_list():
        pass

    render_list()
    harness.clock.advance(30)
    usage_reporter.set_app_id("blog")
    harness.clock.advance(30)
    render_list()
    assert sent_usage(harness) == {"shop-main": (0.5, 0), "shop-list": (0.5, 0),
                                   "blog-main": (0.5, 0), "blog-list": (0.5, 0)}


def test_click_listener_errors_never_reach_the_page():
    harness, _ = installed()

    def broken_listen(element, callback):
        raise RuntimeError("no DOM here")

    usage_reporter.install(harness.reporter, harness.tracker, broken_listen)
    with usage_reporter.track_application_view("cart", Element("panel")):
        pass
    assert any("could not listen" in line for line in harness.logs)

"""usage_reporter: usage telemetry from the browser, in Python (Brython or Pyodide).

The equivalent of Kibana's ``usageCollection.reportUiCounter`` and application-usage
tracking. Import it the same way under CPython, Brython and Pyodide::

    from usage_reporter import METRIC_TYPE, report_ui_counter, track_application_view

    report_ui_counter("shop", METRIC_TYPE.CLICK, "add_to_cart")

Everything here is pure Python with no imports outside this package (see README.md); the
boot (``page_events.boot_page`` and ``boot_worker``, which the runtime adapters call) installs
the page's reporter explicitly with ``install``.
"""

from .api import (
    ViewTracking,
    flush,
    install,
    is_installed,
    is_opted_out,
    opt_in,
    opt_out,
    report_ui_counter,
    report_ui_stats,
    set_app_id,
    track_application_view,
)
from .application_usage import ApplicationUsageTracker
from .report import METRIC_TYPE, REPORT_VERSION
from .reporter import Reporter

__all__ = [
    "METRIC_TYPE",
    "REPORT_VERSION",
    "ApplicationUsageTracker",
    "Reporter",
    "ViewTracking",
    "flush",
    "install",
    "is_installed",
    "is_opted_out",
    "opt_in",
    "opt_out",
    "report_ui_counter",
    "report_ui_stats",
    "set_app_id",
    "track_application_view",
]

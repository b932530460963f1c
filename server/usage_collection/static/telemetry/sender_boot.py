"""The browser telemetry sender on the admin pages, under Brython: the adapter only.

Every rule (once a day per browser, the server's last_reported, backoff) is in
``usage_reporter.telemetry_sender``; this file gives it the browser's clock, focus, JSON and
fetch (localStorage and the once-only console are the visitors' Brython adapter's), and
runs a check at load, every minute, on window focus, and when the settings page changes the
opt-in. Nothing here may throw into the page.
"""

from browser import document, window
import javascript

from usage_reporter._brython import LocalStorage, Runtime  # the visitors' Brython adapter: localStorage, console
from usage_reporter.page_session import log_once_to
from usage_reporter.telemetry_sender import CHECK_INTERVAL_MS, Response, TelemetrySender

_config = javascript.JSON.parse(document["usage-admin-config"].text)
_log_once = log_once_to(Runtime())
_checks = [0]  # checks run so far, due or not: shown in window.usageTelemetrySender


def _log(level, message):
    """Each message once per page, as ``info`` or ``warn``."""
    _log_once(message, message, "warn" if level == "warn" else "info")


sender = TelemetrySender(
    clock=lambda: int(window.Date.now()),
    storage=LocalStorage(),
    parse_json=javascript.JSON.parse,
    dump_json=javascript.JSON.stringify,
    has_focus=lambda: bool(document.hasFocus()),
    base_url=_config.get("root", ""),
    log=_log,
)


def _publish():
    """The sender's state for the page (and for a test or an admin in the console): a check
    that found nothing due shows only as ``checks`` growing with ``busy`` false."""
    window.usageTelemetrySender = window.JSON.parse(javascript.JSON.stringify(
        {"sent": sender.sent, "failures": sender.failures, "retryAt": sender.retry_at, "busy": sender.busy,
         "lastError": sender.last_error, "checks": _checks[0]}))
    if "telemetry-send-error" in document:  # the settings page says why sending failed
        shown = document["telemetry-send-error"]
        if sender.last_error:
            shown.text = "Sending the snapshot from this browser failed: " + sender.last_error + "."
            shown.removeAttribute("hidden")
        else:
            shown.text = ""
            shown.setAttribute("hidden", "")


def _fetch_options(request, headers=None):
    options = window.JSON.parse(javascript.JSON.stringify({"method": request.method,
                                                          "headers": headers or request.headers}))
    if request.body is not None:
        options.body = request.body
    return options


def _fetch(request):
    """fetch(), with the body gzipped by the browser's CompressionStream when the sender asks
    and the browser has one (else sent as is)."""
    packer = getattr(window, "CompressionStream", None) if request.compress else None
    if not packer:
        return window.fetch(request.url, _fetch_options(request))
    packed = window.Blob.new([request.body]).stream().pipeThrough(packer.new("gzip"))
    options = _fetch_options(request, dict(request.headers, **{"Content-Encoding": "gzip"}))

    def send(buffer):
        options.body = buffer
        return window.fetch(request.url, options)

    return window.Response.new(packed).arrayBuffer().then(send)


def _drive(steps, response=None):
    """Advance the sender's generator by one request: perform it, then feed back the answer."""
    try:
        request = next(steps) if response is None else steps.send(response)
    except StopIteration:
        _publish()
        return
    except Exception as exc:
        _log("warn", "usage-collection telemetry sender failed: " + str(exc))
        steps.close()
        _publish()
        return

    def on_response(answer):
        def on_text(text):
            data = None
            if text:
                try:
                    data = javascript.JSON.parse(text)
                except Exception:
                    data = None
            _drive(steps, Response(int(answer.status), data))

        answer.text().then(on_text, lambda error: _drive(steps, Response(int(answer.status))))

    try:
        _fetch(request).then(on_response, lambda error: _drive(steps, Response(0, error=str(error))))
    except Exception as exc:
        _drive(steps, Response(0, error=str(exc)))


def check(*_args):
    try:
        _checks[0] += 1
        steps = sender.check()
        if steps is None:
            _publish()
        else:
            _drive(steps)  # publishes when its last request is answered
    except Exception as exc:
        _log("warn", "usage-collection telemetry check failed: " + str(exc))


window.setInterval(check, CHECK_INTERVAL_MS)
window.addEventListener("focus", check)
window.addEventListener("usage-telemetry-changed", check)
check()

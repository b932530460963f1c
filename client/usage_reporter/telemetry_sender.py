"""The browser's telemetry sender: when an opted-in deployment's snapshot is due, and how.

The equivalent of Kibana's ``TelemetrySender`` (``telemetry/public/services``): at most one
snapshot a day per browser, checked every minute and when the window gains focus, with the
server's ``last_reported`` consulted too so several admins' browsers do not all send.

Pure Python, no imports (it runs under Brython without its stdlib): the clock, the
``localStorage``-like storage, focus and JSON are injected, and the network is a
generator protocol. ``check()`` returns a generator (or None when nothing is due) that
yields ``Request`` objects; the adapter performs each and sends back a ``Response``::

    steps = sender.check()
    if steps is not None:
        request = next(steps)
        while True:
            response = perform(request)          # fetch, then parse JSON
            try:
                request = steps.send(response)
            except StopIteration:
                break

Kibana's rules kept: the ``telemetry.data`` localStorage key with ``{"lastReport": "<ms>"}``,
the 24 h interval minus a 2 min buffer, an optimistic local timestamp before sending, and
retries after 2, 4, 8 ... 64 minutes, giving up after 20. Difference: the snapshot is
requested with ``{"unencrypted": true}`` (usage-collection does not encrypt) and posted
with ``X-Usage-Instance-ID`` / ``X-Usage-Version`` instead of Elastic's headers.
"""

LOCAL_STORAGE_KEY = "telemetry.data"
REPORT_INTERVAL_MS = 86400000
REPORT_INTERVAL_BUFFER_MS = 120000
CHECK_INTERVAL_MS = 60000
RETRY_UNIT_MS = 60000
RETRY_CAP_FACTOR = 64
MAX_RETRIES = 20

CONFIG_PATH = "/api/telemetry/v2/config"
LAST_REPORTED_PATH = "/api/telemetry/v2/last_reported"
SNAPSHOT_PATH = "/api/telemetry/v2/clusters/_stats"
XSRF_HEADERS = {"kbn-xsrf": "usage-telemetry", "Content-Type": "application/json"}
INSTANCE_HEADER = "X-Usage-Instance-ID"
VERSION_HEADER = "X-Usage-Version"


def is_report_interval_expired(last_report_ms, now_ms):
    """Kibana's isReportIntervalExpired: never sent, unreadable, or over a day (minus 2 min) ago."""
    if last_report_ms is None:
        return True
    return now_ms - last_report_ms > REPORT_INTERVAL_MS - REPORT_INTERVAL_BUFFER_MS


def retry_delay_ms(retry_count):
    """Kibana's backoff: 60 s x min(2^n, 64), so 2, 4, 8 ... 64 minutes."""
    factor = 2 ** retry_count
    if factor > RETRY_CAP_FACTOR:
        factor = RETRY_CAP_FACTOR
    return RETRY_UNIT_MS * factor


COMPRESS_OVER_CHARS = 8 * 1024  # the server sender's COMPRESS_OVER_BYTES


class Request:
    """One HTTP request for the adapter to perform; ``body`` is text or None. ``compress``
    asks the adapter to send the body gzipped (``Content-Encoding: gzip``) when it can."""

    def __init__(self, method, url, headers=None, body=None, compress=False):
        self.method = method
        self.url = url
        self.headers = headers or {}
        self.body = body
        self.compress = compress

    def __repr__(self):
        return "Request(" + self.method + " " + self.url + ")"


class Response:
    """What the adapter sends back: ``status`` 0 for a network error, ``data`` the parsed JSON body."""

    def __init__(self, status, data=None, error=None):
        self.status = status
        self.data = data
        self.error = error

    @property
    def ok(self):
        return 200 <= self.status < 300


class TelemetrySender:
    """Decides when this browser sends the deployment's snapshot, and sends it through the adapter.

    ``clock()`` returns epoch milliseconds; ``storage`` has ``get(key)`` (str or None) and
    ``set(key, value)``; ``has_focus()`` is ``document.hasFocus``; ``parse_json`` and
    ``dump_json`` convert text and Python values; ``log(level, message)`` reports problems.
    """

    def __init__(self, clock, storage, parse_json, dump_json, has_focus=None, base_url="", log=None):
        self.clock = clock
        self.storage = storage
        self.parse_json = parse_json
        self.dump_json = dump_json
        self.has_focus = has_focus or (lambda: True)
        self.base_url = base_url
        self.log = log or (lambda level, message: None)
        self.busy = False
        self.retry_count = 0
        self.retry_at = None
        self.sent = 0
        self.failures = 0
        self.last_error = None  # why the last send failed, shown on the settings page

    # -- the local timestamp -------------------------------------------------------------
    def local_last_report(self):
        """The ``lastReport`` stored in this browser, or None when absent or unreadable."""
        try:
            raw = self.storage.get(LOCAL_STORAGE_KEY)
            if not raw:
                return None
            value = self.parse_json(raw)
            text = value.get("lastReport") if isinstance(value, dict) else None
            return int(text) if text is not None else None
        except Exception:
            return None

    def set_local_last_report(self, when_ms):
        try:
            self.storage.set(LOCAL_STORAGE_KEY, self.dump_json({"lastReport": str(int(when_ms))}))
        except Exception as exc:  # storage full or blocked: the server-side check still applies
            self.log("warn", "telemetry: cannot write localStorage: " + str(exc))

    # -- the decision ----------------------------------------------------------------------
    def check(self):
        """A generator of requests when a send (or a retry) may be due now, else None."""
        if self.busy or not self.has_focus():
            return None
        now = self.clock()
        if self.retry_at is not None:
            if now < self.retry_at:
                return None
            return self._run(retrying=True)
        if not is_report_interval_expired(self.local_last_report(), now):
            return None
        return self._run(retrying=False)

    def _run(self, retrying):
        self.busy = True
        try:
            yield from self._send_if_due(retrying)
        finally:
            self.busy = False

    def _send_if_due(self, retrying):
        config_response = yield Request("GET", self.base_url + CONFIG_PATH)
        if not config_response.ok or not isinstance(config_response.data, dict):
            return  # cannot tell whether we may send: try again at the next check
        config = config_response.data
        if config.get("optIn") is not True or not config.get("telemetryUrl"):
            self.retry_at = None
            return
        if not retrying:
            last = yield Request("GET", self.base_url + LAST_REPORTED_PATH)
            if not last.ok:
                return
            server_last = last.data.get("lastReported") if isinstance(last.data, dict) else None
            if server_last is not None:
                self.set_local_last_report(server_last)
                if not is_report_interval_expired(server_last, self.clock()):
                    return
            self.set_local_last_report(self.clock())  # optimistic, like Kibana: one tab sends
            self.retry_count = 0
        error = yield from self._send_snapshot(config)
        if error is None:
            self.sent += 1
            self.retry_count = 0
            self.retry_at = None
            self.last_error = None
            yield Request("PUT", self.base_url + LAST_REPORTED_PATH, dict(XSRF_HEADERS), "{}")
            return
        self.failures += 1
        self.last_error = error
        self.retry_count += 1
        if self.retry_count >= MAX_RETRIES:
            self.retry_at = None
            self.log("warn", "TelemetrySender.sendUsageData exceeds number of retry attempts with " + error)
            return
        self.retry_at = self.clock() + retry_delay_ms(self.retry_count)
        self.log("info", "telemetry: sending failed (" + error + "); retrying in "
                 + str(retry_delay_ms(self.retry_count) // 1000) + " s")

    def _send_snapshot(self, config):
        """POST each ``{clusterUuid, stats}`` to the telemetry URL; the first error as text, or None."""
        snapshot = yield Request("POST", self.base_url + SNAPSHOT_PATH, dict(XSRF_HEADERS),
                                 self.dump_json({"unencrypted": True}))
        if not snapshot.ok or not isinstance(snapshot.data, list):
            return "snapshot request answered " + _describe(snapshot)
        version = str(config.get("version") or "")
        for entry in snapshot.data:
            if not isinstance(entry, dict):
                return "snapshot entry is not an object"
            headers = {"Content-Type": "application/json", INSTANCE_HEADER: str(entry.get("clusterUuid")),
                       VERSION_HEADER: version}
            body = self.dump_json(entry.get("stats"))
            sent = yield Request("POST", config["telemetryUrl"], headers, body, len(body) > COMPRESS_OVER_CHARS)
            if not sent.ok:
                return "telemetry URL answered " + _describe(sent)
        return None


def _describe(response):
    if response.status == 0:
        return "a network error" + (": " + str(response.error) if response.error else "")
    return "HTTP " + str(response.status)

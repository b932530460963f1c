"""Who a request comes from: DNS rebinding (Host), reverse proxies (X-Forwarded-For) and how
clients are counted by the limits (IPv4 per address, IPv6 per /64). Each test performs the
attack against a real server on 127.0.0.1, or through the test client where the address
cannot be had on this machine (IPv6 networks other than ::1)."""

from __future__ import annotations

import http.client
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from flask import Flask

from support.live_server import LiveServer
from usage_collection import UsageCollection

URL = "/api/ui_counters/_report"


def request(server: LiveServer, method: str, path: str, headers: dict[str, str] | None = None,
            body: Any = None, source: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    """One request with exactly these headers (Host included), from ``source``."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
            all_headers["Content-Length"] = str(len(data))
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(data)
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload.startswith(b"{") else {}
    finally:
        conn.close()


def report(event: str) -> dict[str, Any]:
    key = f"shop-click-{event}"
    return {"report": {"reportVersion": 3, "uiCounter": {
        key: {"key": key, "appName": "shop", "eventName": event, "type": "click", "total": 1}}}}


_events = iter(range(10**6))


def post_report(server: LiveServer, headers: dict[str, str] | None = None, source: str = "127.0.0.1") -> int:
    """A report creating one new name: the servers below allow 2 new names per client per day
    (a daily limit, so no minute boundary can fall between the requests of a test)."""
    return request(server, "POST", URL, {"kbn-xsrf": "t", **(headers or {})}, report(f"e{next(_events)}"), source)[0]


LIMITED = {"USAGE_ROLLUP_INTERVAL_S": "0", "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY": "2"}


@pytest.fixture
def server(tmp_path):
    live = LiveServer(tmp_path / "id.db", env={"USAGE_ROLLUP_INTERVAL_S": "0"}).start()
    yield live
    live.stop()


# -- DNS rebinding ---------------------------------------------------------------------------------


def test_a_rebound_host_cannot_read_stats_or_flip_the_opt_in(server):
    rebound = {"Host": f"rebind.attacker.example:{server.port}"}
    status, error = request(server, "GET", "/api/stats", rebound)
    assert status == 403
    assert "'rebind.attacker.example' is not a loopback name" in error["message"]
    assert "USAGE_ALLOWED_HOSTS" in error["message"]
    status, _ = request(server, "POST", "/api/telemetry/v2/optIn", {**rebound, "kbn-xsrf": "t"}, {"enabled": True})
    assert status == 403
    status, config = request(server, "GET", "/api/telemetry/v2/config")
    assert status == 200 and config["optIn"] is None  # nobody chose: the rebound write changed nothing
    assert request(server, "GET", "/usage/settings", rebound)[0] == 403
    assert request(server, "GET", "/usage/dashboard/data", rebound)[0] == 403


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "localhost", "LOCALHOST:{port}"])
def test_loopback_host_names_keep_operator_access(server, host):
    status, stats = request(server, "GET", "/api/stats", {"Host": host.format(port=server.port)})
    assert status == 200 and "last_updated" in stats


def test_allowed_hosts_extend_the_loopback_names(tmp_path):
    live = LiveServer(tmp_path / "hosts.db", env={"USAGE_ROLLUP_INTERVAL_S": "0",
                                                   "USAGE_ALLOWED_HOSTS": "stats.internal,*.ops.example"}).start()
    try:
        for host in ("stats.internal", "a.ops.example:8443"):
            assert request(live, "GET", "/api/stats", {"Host": host})[0] == 200
        for host in ("ops.example", "rebind.attacker.example", "stats.internal.attacker.example"):
            assert request(live, "GET", "/api/stats", {"Host": host})[0] == 403
    finally:
        live.stop()


# -- reverse proxies -------------------------------------------------------------------------------


def test_forwarded_loopback_request_is_neither_operator_nor_exempt_without_a_trusted_proxy(tmp_path):
    live = LiveServer(tmp_path / "proxy.db", env=LIMITED).start()
    try:
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        status, error = request(live, "GET", "/api/stats", forwarded)
        assert status == 403 and "USAGE_TRUSTED_PROXIES" in error["message"]
        assert request(live, "GET", "/api/stats", {"X-Real-IP": "127.0.0.1"})[0] == 403
        assert [post_report(live, forwarded) for _ in range(3)] == [200, 200, 429]
        assert [post_report(live) for _ in range(3)] == [200, 200, 200]  # plain loopback stays exempt
    finally:
        live.stop()


def test_a_trusted_proxy_gives_each_forwarded_client_its_own_address(tmp_path):
    live = LiveServer(tmp_path / "trusted.db", args=("--trusted-proxy", "127.0.0.1"),
                      env=LIMITED).start()
    try:
        assert request(live, "GET", "/api/stats", {"X-Forwarded-For": "203.0.113.9"})[0] == 403
        assert request(live, "GET", "/api/stats", {"X-Forwarded-For": "127.0.0.1"})[0] == 200
        assert [post_report(live, {"X-Forwarded-For": "198.51.100.1"}) for _ in range(2)] == [200, 200]
        # A client forging an entry to the left is still counted as the address the proxy saw.
        assert post_report(live, {"X-Forwarded-For": "10.9.9.9, 198.51.100.1"}) == 429
        assert post_report(live, {"X-Forwarded-For": "198.51.100.2"}) == 200  # another client: its own quota
        assert [post_report(live) for _ in range(3)] == [200, 200, 200]  # the proxy's own requests: loopback
    finally:
        live.stop()


# -- how clients are counted -----------------------------------------------------------------------


def test_ipv4_clients_are_counted_per_address(tmp_path):
    live = LiveServer(tmp_path / "v4.db", env={**LIMITED, "USAGE_LIMITS_EXEMPT": ""}).start()
    try:
        assert [post_report(live, source="127.0.0.2") for _ in range(3)] == [200, 200, 429]
        assert [post_report(live, source="127.0.0.3") for _ in range(3)] == [200, 200, 429]
    finally:
        live.stop()


class FixedClock:
    def __call__(self) -> datetime:
        return datetime(2025, 3, 1, 12, 0, 10, tzinfo=timezone.utc)


def _app(db_path, **config) -> Flask:
    """The extension on a fixed clock, so every request falls in one rate-limit minute."""
    app = Flask("identity_test")
    app.config.update({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0,
                       "USAGE_RATE_LIMIT_PER_MINUTE": 3, **config})
    UsageCollection(app, clock=FixedClock())
    return app


def _post_from(app: Flask, address: str) -> int:
    return app.test_client().post(URL, json=report("e"), headers={"kbn-xsrf": "t"},
                                  environ_base={"REMOTE_ADDR": address}).status_code


def test_ipv6_clients_are_counted_per_64(db_path):
    app = _app(db_path)
    try:
        # Four addresses of one /64 share its quota of 3 a minute; the next /64 is another client.
        assert [_post_from(app, address) for address in (
            "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::3", "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:db8:1:3::1")] == [200, 200, 200, 429, 200]
    finally:
        app.extensions["usage_collection"].close()


def test_the_ipv6_prefix_is_configurable(db_path):
    app = _app(db_path, USAGE_LIMITS_IPV6_PREFIX=128)
    try:
        assert [_post_from(app, f"2001:db8:1:2::{n}") for n in range(1, 6)] == [200] * 5
        assert [_post_from(app, "2001:db8:1:2::1") for _ in range(3)] == [200, 200, 429]
    finally:
        app.extensions["usage_collection"].close()


def test_client_key_by_hand():
    from usage_collection.limits import client_key
    from usage_collection.settings import load_settings

    settings = load_settings(environ={})  # the default prefix: 64
    assert client_key("2001:db8:1:2:aaaa::1", settings) == "2001:db8:1:2::/64"
    assert client_key("::ffff:198.51.100.7", settings) == "198.51.100.7"
    assert client_key("198.51.100.7", settings) == "198.51.100.7"
    assert client_key("2001:db8:1:2:aaaa::1", settings.updated({"USAGE_LIMITS_IPV6_PREFIX": 48})) == "2001:db8:1::/48"

"""Names with control or format characters (Unicode Cc and Cf: tabs, newlines, bidi overrides,
zero-width characters) are refused with a 400 naming the field and the character, on the
server and, with the same table, in the browser client. A chart legend once showed
``rtlexe.png`` for a name holding U+202E."""

from __future__ import annotations

import re
import unicodedata

import pytest

from usage_collection.storage import open_storage

from usage_reporter.validation import INVISIBLE_RANGES, check_name, invisible_character

URL = "/api/ui_counters/_report"
HIDDEN = {
    "right-to-left override": ("rtl\u202egnp.exe", "U+202E"),
    "zero-width space": ("disc\u200bover", "U+200B"),
    "zero-width joiner": ("a\u200db", "U+200D"),
    "byte order mark": ("\ufeffdiscover", "U+FEFF"),
    "soft hyphen": ("dis\u00adcover", "U+00AD"),
    "tab": ("tab\tname", "U+0009"),
    "newline": ("two\nlines", "U+000A"),
    "NUL": ("nul\x00name", "U+0000"),
    "C1 control": ("x\x85y", "U+0085"),
    "tag character": ("flag\U000e0041", "U+E0041"),
}
VISIBLE = ["discover", "ünïcödé", "日本語", "emoji-😀", "family-👨‍👩‍👧"[:8], "with space", "Ω-view", "عربي"]


def report(app: str = "discover", event: str = "open", view: str = "main") -> dict:
    key = "counter-1"  # the map key and "key" stay plain, so the named field is the one refused
    return {"report": {"reportVersion": 3,
                       "uiCounter": {key: {"key": key, "appName": app, "eventName": event, "type": "click", "total": 1}},
                       "application_usage": {"view-1": {"appId": app, "viewId": view, "minutesOnScreen": 1,
                                                               "numberOfClicks": 1}}}}


def stored(db_url) -> int:
    storage = open_storage(db_url)
    try:
        return storage.query("SELECT COUNT(*) FROM ui_metric")[0][0]
    finally:
        storage.close()


@pytest.mark.parametrize("field", ["appName", "eventName", "viewId"])
@pytest.mark.parametrize("name, code", HIDDEN.values(), ids=list(HIDDEN))
def test_hidden_characters_in_names_are_a_400_naming_the_field(client, db_url, field, name, code):
    body = {"appName": report(app=name), "eventName": report(event=name), "viewId": report(view=name)}[field]
    response = client.post(URL, json=body, headers={"kbn-xsrf": "t"})
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert f".{field}]: value " in message and f"contains the control or format character {code}" in message
    assert stored(db_url) == 0


@pytest.mark.parametrize("name", VISIBLE)
def test_visible_names_stay_valid(client, db_url, name):
    response = client.post(URL, json=report(app=name, event=name, view=name), headers={"kbn-xsrf": "t"})
    assert response.status_code == 200, response.get_json()
    assert stored(db_url) == 1


@pytest.mark.parametrize("name, code", HIDDEN.values(), ids=list(HIDDEN))
def test_the_client_refuses_the_same_names(name, code):
    with pytest.raises(ValueError, match=f"must not contain control or format characters .* holds {re.escape(code)}$"):
        check_name("event_name", name)


def test_the_clients_table_is_unicodes_cc_and_cf():
    """Every Cc/Cf character of this Python's Unicode is in the table, and the table holds
    nothing else but characters unassigned here (format characters of a later Unicode)."""
    table = {code for low, high in INVISIBLE_RANGES for code in range(low, high + 1)}
    categories = {code: unicodedata.category(chr(code)) for code in range(0x110000)}
    assert {code for code, cat in categories.items() if cat in ("Cc", "Cf")} <= table
    assert {categories[code] for code in table} <= {"Cc", "Cf", "Cn"}
    assert invisible_character("plain ascii name") is None


@pytest.mark.parametrize("where", ["userAgent value", "userAgent key", "uiCounter key", "application_usage key"])
def test_hidden_characters_in_user_agents_and_map_keys_are_a_400_and_store_nothing(client, db_url, where):
    """A user agent (and the userAgent map's key) is stored too; PostgreSQL cannot even hold a
    NUL, so without this a report carrying one got 503 and its browser retried it for ever."""
    ua = {"key": "k", "type": "user_agent", "appName": "shop", "userAgent": "Mozilla/5.0"}
    counter = {"key": "k", "appName": "shop", "eventName": "buy", "type": "click", "total": 1}
    report = {"reportVersion": 3, "userAgent": {"k": ua}, "uiCounter": {"k": counter},
              "application_usage": {"k": {"appId": "shop", "viewId": "main", "minutesOnScreen": 1, "numberOfClicks": 1}}}
    bad = "nul\u0000here"
    if where == "userAgent value":
        ua["userAgent"] = bad
    else:
        section = where.split()[0]
        report[section] = {bad: report[section]["k"]}
    response = client.post(URL, json={"report": report}, headers={"kbn-xsrf": "1"})
    assert response.status_code == 400, response.get_json()
    assert "U+0000" in response.get_json()["message"]
    assert stored(db_url) == 0

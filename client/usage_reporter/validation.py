"""Checks on what callers pass, so a bad call fails at once with a message that says why.

Kibana's reporter validates nothing, and its server then rejects the whole report (400),
losing every good event sent with the bad one. We refuse the bad call instead, with the
same limits the receiver applies (a colon in an app name, names over 256 characters, control
or format characters in names), so a
report built from accepted calls is never refused. Builtins only: no imports.
"""

from .report import MAX_ENTRY_VALUE, ui_counter_key

MAX_NAME_LENGTH = 256  # the receiver's USAGE_MAX_NAME_LENGTH default
MAX_COUNT = MAX_ENTRY_VALUE  # what the server accepts for one entry of one report

# Unicode's control (Cc: tab, newline, NUL...) and format (Cf: bidi overrides, zero-width
# spaces and joiners, soft hyphen...) characters, as code point ranges (Unicode 14, plus the
# hieroglyph format controls Unicode 15 added). Names holding them can look like other names
# ("exe.png" shown for "gnp.exe" behind U+202E) or like nothing at all; no name needs them.
# A table, not unicodedata: the browser runtimes load no more modules than they need.
INVISIBLE_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)


def invisible_character(value):
    """The first control or format character in ``value`` (see INVISIBLE_RANGES), or None."""
    for char in value:
        code = ord(char)
        if 0x20 <= code < 0x7F:
            continue
        for low, high in INVISIBLE_RANGES:
            if code < low:
                break
            if code <= high:
                return char
    return None


def describe(value):
    """A short, quoted rendering of a caller's value for error messages."""
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return '"' + shown + '"'
    try:
        shown = repr(value)
    except Exception:
        shown = "<" + type(value).__name__ + ">"
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return shown


def check_name(what, value):
    """``value`` must be a non-blank string of at most MAX_NAME_LENGTH characters."""
    if not isinstance(value, str):
        raise ValueError(what + " must be a string, not " + type(value).__name__ + " " + describe(value))
    if not value.strip():
        raise ValueError(what + " must not be empty or blank")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            what + " " + describe(value) + " is " + str(len(value)) + " characters long; the limit is "
            + str(MAX_NAME_LENGTH)
        )
    invisible = invisible_character(value)
    if invisible is not None:
        raise ValueError(
            what + " must not contain control or format characters (tabs, newlines, bidi or zero-width "
            "characters); it holds U+" + ("%04X" % ord(invisible))
        )
    return value


def check_app_name(what, value):
    """An app name (or app id) is part of stored ids whose parts are separated by colons."""
    check_name(what, value)
    if ":" in value:
        raise ValueError(
            what + " " + describe(value) + ' must not contain ":" (colons separate the parts of stored ids)'
        )
    return value


def check_metric_type(metric_type):
    """Any non-empty string is a metric type, as in Kibana (METRIC_TYPE lists the usual ones)."""
    return check_name("metric_type", metric_type)


def check_event_names(event_names):
    """One event name or a list/tuple of them; returns a list."""
    if isinstance(event_names, str):
        names = [event_names]
    elif isinstance(event_names, (list, tuple)):
        names = list(event_names)
        if not names:
            raise ValueError("event_names must name at least one event (got an empty list)")
    else:
        raise ValueError(
            "event_names must be a string or a list of strings, not " + type(event_names).__name__
        )
    for name in names:
        check_name("event name", name)
    return names


def check_count(count):
    """A positive whole number (a bool is not a count)."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(
            "count must be a positive whole number, not " + type(count).__name__ + " " + describe(count)
        )
    if count <= 0:
        raise ValueError("count must be at least 1 (got " + str(count) + "); counters only go up")
    if count > MAX_COUNT:
        raise ValueError("count " + str(count) + " is too large; the limit is " + str(MAX_COUNT))
    return count


def check_ui_counter(app_name, metric_type, event_names, count):
    """All of report_ui_counter's checks; returns the list of event names."""
    check_app_name("app_name", app_name)
    check_metric_type(metric_type)
    names = check_event_names(event_names)
    check_count(count)
    for name in names:
        key = ui_counter_key(app_name, metric_type, name)
        if len(key) > MAX_NAME_LENGTH:
            raise ValueError(
                "the counter key " + describe(key) + " (app_name-metric_type-event_name) is "
                + str(len(key)) + " characters long; the limit is " + str(MAX_NAME_LENGTH)
            )
    return names


def check_view_id(view_id):
    """A view id names a sub-view of the current app (``main`` is the app itself)."""
    return check_name("view_id", view_id)

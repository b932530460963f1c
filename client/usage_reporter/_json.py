"""A tiny JSON codec, because Brython pages load ``brython.js`` without its stdlib (no ``json``).

``dumps`` writes compact JSON (no spaces, non-ASCII kept as is, ``"``/``\\``/control
characters escaped as the stdlib does; lone surrogates escaped as ``JSON.stringify`` does),
so the text is the same as ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``.
``loads`` reads what ``dumps`` and a browser's ``JSON.stringify`` produce (any valid JSON).
Both raise ``ValueError`` on what they cannot handle. Builtins only: no imports.

    >>> dumps({"a": [1, 2.5, "x\\n"], "b": None})
    '{"a":[1,2.5,"x\\\\n"],"b":null}'
"""

_NAMED_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_UNESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = "0123456789abcdef"
_WHITESPACE = " \t\n\r"
_NUMBER_CHARS = "0123456789+-.eE"


def _u_escape(code):
    return "\\u" + _HEX[(code >> 12) & 15] + _HEX[(code >> 8) & 15] + _HEX[(code >> 4) & 15] + _HEX[code & 15]


def _needs_escape(char):
    code = ord(char)
    return code < 32 or code == 34 or code == 92 or 0xD800 <= code <= 0xDFFF


def quote(text):
    """The JSON string literal for ``text`` (fast path: nothing to escape, the usual case).

    ``isprintable`` is False for every control character and lone surrogate, and runs
    natively in Brython (a loop over the characters in Python is ~5 times slower there).
    """
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    parts = []
    for char in text:
        if _needs_escape(char):
            parts.append(_NAMED_ESCAPES.get(char) or _u_escape(ord(char)))
        else:
            parts.append(char)
    return '"' + "".join(parts) + '"'


def _dump_number(value):
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("JSON has no NaN or Infinity: " + repr(value))
    return repr(value)


def _dump(value, parts):
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(quote(value))
    elif isinstance(value, int):
        parts.append(str(int(value)))
    elif isinstance(value, float):
        parts.append(_dump_number(float(value)))
    elif isinstance(value, dict):
        parts.append("{")
        first = True
        for key in value:
            if not isinstance(key, str):
                raise ValueError("JSON object keys must be strings, not " + type(key).__name__)
            if not first:
                parts.append(",")
            first = False
            parts.append(quote(key))
            parts.append(":")
            _dump(value[key], parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        first = True
        for item in value:
            if not first:
                parts.append(",")
            first = False
            _dump(item, parts)
        parts.append("]")
    else:
        raise ValueError("cannot write a " + type(value).__name__ + " as JSON")


def dumps(value):
    """Compact JSON text for dicts (string keys), lists, tuples, str, int, float, bool, None."""
    parts = []
    _dump(value, parts)
    return "".join(parts)


class _Parser:
    """Recursive descent over the text; ``pos`` is the index of the next unread character."""

    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.backslash = -1  # index of the next backslash at or after a string's start

    def next_backslash(self, start):
        """Index of the first backslash at or after ``start`` (len(text) when none).

        Cached, so a text with many strings is scanned once. (``str.find``'s ``end``
        argument cannot bound the search: Brython 3.15 ignores it.)
        """
        if self.backslash < start:
            found = self.text.find("\\", start)
            self.backslash = len(self.text) if found < 0 else found
        return self.backslash

    def fail(self, what):
        raise ValueError("invalid JSON: " + what + " at character " + str(self.pos))

    def skip_space(self):
        text = self.text
        pos = self.pos
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        self.pos = pos

    def value(self):
        self.skip_space()
        if self.pos >= len(self.text):
            self.fail("unexpected end")
        char = self.text[self.pos]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            return self.string()
        if char == "-" or "0" <= char <= "9":
            return self.number()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        self.fail("unexpected " + quote(char))

    def object(self):
        self.pos += 1
        result = {}
        self.skip_space()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return result
        while True:
            self.skip_space()
            if not self.text.startswith('"', self.pos):
                self.fail("expected a string key")
            key = self.string()
            self.skip_space()
            if not self.text.startswith(":", self.pos):
                self.fail('expected ":"')
            self.pos += 1
            result[key] = self.value()
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            else:
                self.fail('expected "," or "}"')

    def array(self):
        self.pos += 1
        result = []
        self.skip_space()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return result
        while True:
            result.append(self.value())
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            else:
                self.fail('expected "," or "]"')

    def hex4(self, at):
        digits = self.text[at:at + 4]
        if len(digits) != 4:
            self.fail("short \\u escape")
        for digit in digits:
            if digit not in "0123456789abcdefABCDEF":
                self.fail("bad \\u escape")
        return int(digits, 16)

    def string(self):
        text = self.text
        start = self.pos + 1
        parts = []
        while True:
            end = text.find('"', start)
            if end < 0:
                self.pos = start
                self.fail("unterminated string")
            backslash = self.next_backslash(start)
            stop = end if backslash > end else backslash
            chunk = text[start:stop]
            if not chunk.isprintable():
                for char in chunk:
                    if char < " ":
                        self.pos = start
                        self.fail("control character in string")
            parts.append(chunk)
            if backslash > end:
                self.pos = end + 1
                return "".join(parts)
            start = self.unescape(backslash, parts)

    def unescape(self, at, parts):
        """Append the character escaped at ``text[at]`` (a backslash); return the next index."""
        kind = self.text[at + 1:at + 2]
        if kind in _UNESCAPES:
            parts.append(_UNESCAPES[kind])
            return at + 2
        if kind != "u":
            self.pos = at
            self.fail("bad escape")
        code = self.hex4(at + 2)
        after = at + 6
        if 0xD800 <= code <= 0xDBFF and self.text.startswith("\\u", after):
            low = self.hex4(after + 2)
            if 0xDC00 <= low <= 0xDFFF:
                parts.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                return after + 6
        parts.append(chr(code))
        return after

    def number(self):
        text = self.text
        start = self.pos
        pos = start
        while pos < len(text) and text[pos] in _NUMBER_CHARS:
            pos += 1
        literal = text[start:pos]
        self.pos = pos
        digits = literal[1:] if literal.startswith("-") else literal
        if not digits or not "0" <= digits[0] <= "9" or (digits[0] == "0" and digits[1:2].isdigit()):
            self.pos = start
            self.fail("bad number " + quote(literal))
        try:
            if "." in literal or "e" in literal or "E" in literal:
                if literal.endswith(".") or ".e" in literal or ".E" in literal:
                    raise ValueError(literal)
                return float(literal)
            return int(literal)
        except ValueError:
            self.pos = start
            self.fail("bad number " + quote(literal))


def loads(text):
    """The value in ``text``; ``ValueError`` for anything that is not a single JSON value."""
    if not isinstance(text, str):
        raise ValueError("JSON text must be a str, not " + type(text).__name__)
    parser = _Parser(text)
    result = parser.value()
    parser.skip_space()
    if parser.pos != len(text):
        parser.fail("extra data")
    return result

"""The framework's ceiling for bench/receiver.py: a Flask endpoint that only parses the JSON.

Same path, same server and worker settings as the receiver; it reads the body, decodes it
and answers ``{"status": "ok"}``. Whatever the receiver does beyond this is its own cost.
"""

from __future__ import annotations

import json

from flask import Flask, jsonify, request

app = Flask("plain")


@app.post("/api/ui_counters/_report")
def report():  # type: ignore[no-untyped-def]
    json.loads(request.get_data())
    return jsonify(status="ok")

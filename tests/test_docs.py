"""Docs that cannot drift: every setting, route and CLI command is in README.md."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from usage_collection.cli import main as cli_main
from usage_collection.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting):
    assert f"`{setting.name}`" in README, f"{setting.name} is missing from README.md's settings table"


def test_every_route_is_documented(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.split("<")[0].rstrip("/") or "/"
        if path not in README:
            missing.append(rule.rule)
    assert not missing, f"routes missing from README.md: {missing}"


def test_every_cli_command_is_documented():
    assert isinstance(cli_main, click.Group)
    missing = [name for name in cli_main.commands if f"usage-collection {name}" not in README]
    assert not missing, f"CLI commands missing from README.md: {missing}"

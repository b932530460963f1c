"""The browser package ``usage_reporter`` as a pure-Python wheel, built in memory.

Pyodide pages install our client with ``await pyodide.loadPackage(wheel_url)`` (no
micropip, no network beyond this server), so the server builds a ``py3-none-any`` wheel
from the ``usage_reporter`` sources it ships with, once at start. The build is
deterministic (sorted entries, fixed timestamps): every worker process of a deployment
makes the same bytes, hence the same content hash and the same cacheable URL.

    >>> wheel = build_wheel(Path("client/usage_reporter"), "0.1.0")
    >>> wheel.filename
    'usage_reporter-0.1.0-py3-none-any.whl'
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .bundle import PACKAGE

SUMMARY = "Browser side of usage-collection: UI counters and application usage for Brython and Pyodide pages."
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_INCLUDED_SUFFIXES = (".py", ".typed")
# Never runs under Pyodide: the Brython adapter imports Brython's ``browser`` module, and the
# admin pages' telemetry sender runs under Brython on the admin pages only.
PYODIDE_EXCLUDED = frozenset({"_brython.py", "_brython_worker.py", "telemetry_sender.py"})


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its standard file name, its bytes and their sha256 (hex)."""

    filename: str
    data: bytes
    sha256: str

    @property
    def short_hash(self) -> str:
        return self.sha256[:16]


def wheel_version(version: str) -> str:
    """A version valid in a wheel file name (PEP 427 escapes ``-`` as ``_``)."""
    return re.sub(r"[^\w.+!]+", "_", version) or "0"


def package_files(source: Path) -> list[tuple[str, bytes]]:
    """The files that go into the wheel, as (archive path, bytes), sorted for determinism."""
    files = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if (not path.is_file() or "__pycache__" in relative.parts or path.suffix not in _INCLUDED_SUFFIXES
                or path.name in PYODIDE_EXCLUDED):
            continue
        files.append((f"{PACKAGE}/{relative.as_posix()}", path.read_bytes()))
    if not any(name == f"{PACKAGE}/__init__.py" for name, _ in files):
        raise RuntimeError(f"{source} has no __init__.py: not the {PACKAGE} package")
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _dist_info(version: str) -> list[tuple[str, bytes]]:
    metadata = (f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\nSummary: {SUMMARY}\n"
                "License: Apache-2.0\nRequires-Python: >=3.11\n")
    wheel = "Wheel-Version: 1.0\nGenerator: usage-collection\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    prefix = f"{PACKAGE}-{version}.dist-info"
    return [(f"{prefix}/METADATA", metadata.encode()), (f"{prefix}/WHEEL", wheel.encode())]


def build_wheel(source: Path, version: str) -> Wheel:
    """Zip ``source`` (the package folder) into ``usage_reporter-<version>-py3-none-any.whl``."""
    version = wheel_version(version)
    entries = package_files(source) + _dist_info(version)
    record_name = f"{PACKAGE}-{version}.dist-info/RECORD"
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((record_name, (record + f"{record_name},,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    return Wheel(f"{PACKAGE}-{version}-py3-none-any.whl", data, hashlib.sha256(data).hexdigest())

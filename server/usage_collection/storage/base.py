"""``Storage``: the one interface through which the server reads and writes.

Routes, collectors, telemetry, limits and rollups call its methods; every SQL statement
of the server lives in this package. Two backends implement it, ``SQLiteStorage`` (the
embedded default) and ``PostgresStorage`` (any number of receiver hosts), and share the
query code below, written once in SQL both engines run.
"""

from __future__ import annotations

from .dashboard import DashboardReads
from .data_tasks import DataTaskStore
from .reads import CollectorReads
from .reports import ReportStore
from .request_counts import RequestCounts
from .telemetry import TelemetryStore
from .upkeep import Upkeep


class Storage(ReportStore, RequestCounts, CollectorReads, DashboardReads, TelemetryStore, Upkeep, DataTaskStore):
    """Everything stored, behind methods; see the mixed-in modules for each part."""

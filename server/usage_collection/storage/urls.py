"""What a ``USAGE_DB`` value names: a PostgreSQL URL or a SQLite file, and how to show it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return str(url).lower().startswith(POSTGRES_SCHEMES)


def describe_url(url: str) -> str:
    """``url`` for logs and messages: a PostgreSQL URL's password becomes ``***``."""
    if not is_postgres_url(url):
        return str(url)
    parts = urlsplit(str(url))
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@")))
    return str(url)

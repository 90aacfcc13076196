"""Bring MLflow's databases to the schema this MLflow expects: once, before any server starts.

An MLflow server migrates an empty or older database itself when it starts, guarded by a file
lock that only serialises processes on one machine. Two pods starting together on one
PostgreSQL (two replicas, or an old and a new pod during an upgrade) would run the same
migrations at once. The chart runs this as the MLflow pod's init container: it takes a
PostgreSQL advisory lock, so one pod migrates and the others wait, then find the schema current.
The basic-auth app's user store (its own Alembic version table) is migrated under the same lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("mlrollout.db")

# Any constant shared by every migrator of this database ("mlro" in ASCII).
ADVISORY_LOCK_KEY = 0x6D6C726F


class JsonLines(logging.Formatter):
    """One JSON object a line: the message, the level and the fields passed as ``extra``."""

    _PLAIN = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"taskName"}

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in self._PLAIN}
        head = {"level": record.levelname.lower(), "logger": record.name}
        return json.dumps({**head, "msg": record.getMessage(), **fields}, default=str)


class DatabaseUnreachable(Exception):
    """The database did not accept a connection before the deadline."""


def redact(uri: str) -> str:
    """``uri`` without its password (for logs and errors)."""
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)


def connect(uri: str, timeout_s: float, every_s: float = 2.0) -> Any:
    """An engine whose database answers ``SELECT 1``; waits up to ``timeout_s`` for it."""
    import sqlalchemy
    from mlflow.store.db.utils import _make_parent_dirs_if_sqlite

    _make_parent_dirs_if_sqlite(uri)
    engine = sqlalchemy.create_engine(uri, pool_pre_ping=True)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT 1"))
            return engine
        except sqlalchemy.exc.OperationalError as exc:
            left = deadline - time.monotonic()
            first_line = str(exc.orig or exc).strip().splitlines()[0]
            if left <= 0:
                raise DatabaseUnreachable(
                    f"{redact(uri)} did not accept a connection in {timeout_s:.0f}s "
                    f"({first_line}); check that the database runs and the password is right"
                ) from None
            log.info(
                "waiting for the database",
                extra={"database": redact(uri), "error": first_line, "seconds_left": int(left)},
            )
            time.sleep(min(every_s, left))


@contextmanager
def migration_lock(engine: Any) -> Iterator[None]:
    """Held by one migrator at a time (PostgreSQL); sqlite has one writer and no need of it."""
    import sqlalchemy

    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        started = time.monotonic()
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        log.info("migration lock taken", extra={"waited_s": round(time.monotonic() - started, 2)})
        try:
            yield
        finally:
            conn.execute(
                sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )


def schema_revision(engine: Any) -> str | None:
    """The tracking store's Alembic revision (None: no MLflow tables yet)."""
    from mlflow.store.db.utils import _all_tables_exist, _get_schema_version

    if not _all_tables_exist(engine):  # type: ignore[no-untyped-call]
        return None
    return str(_get_schema_version(engine))  # type: ignore[no-untyped-call]


def upgrade(backend_uri: str, auth_uri: str | None = None, timeout_s: float = 300) -> str:
    """Create or upgrade the tracking store (and the auth store); returns the tracking revision."""
    from mlflow.store.db.utils import _initialize_tables, _upgrade_db

    engine = connect(backend_uri, timeout_s)
    auth_engine = connect(auth_uri, timeout_s) if auth_uri else None
    with migration_lock(engine):
        before = schema_revision(engine)
        if before is None:
            log.info("creating MLflow's tables", extra={"database": redact(backend_uri)})
            _initialize_tables(engine)  # type: ignore[no-untyped-call]
        else:
            _upgrade_db(engine)  # type: ignore[no-untyped-call]
        after = schema_revision(engine)
        log.info("tracking store current", extra={"from": before, "to": after})
        if auth_engine is not None:
            from mlflow.server.auth.db.utils import migrate_if_needed

            migrate_if_needed(auth_engine, "head")
            log.info("auth store current", extra={"database": redact(str(auth_uri))})
    engine.dispose()
    if auth_engine is not None:
        auth_engine.dispose()
    assert after is not None
    return after

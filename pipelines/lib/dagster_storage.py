"""The Dagster instance's SQLite storage, with the run event log keeping its database engines.

Dagster's own `SqliteEventLogStorage` (one SQLite file per run, plus an index file) builds a new SQLAlchemy
engine for every event it stores and closes its connection afterwards. So every event compiles its INSERT
again (SQLAlchemy's compiled cache lives on the engine), and closing the last connection of a WAL database
checkpoints the file. A whole-pipeline run stores some 700 events (asset materialisations, every dbt test
as an asset check, step events), and that was about a fifth of the run's CPU in the run's process.

`KeptEngineEventLogStorage` keeps one engine with one open connection for each of the few most recently used
files (the index and the running runs' files). The files, their tables and migrations are Dagster's own:
the Dagster UI, `dagster dev` and any other process read and write them as ever (SQLite's own locking; an
open connection holds no lock between transactions). Only this process's connection handling differs.
`dagster.yaml` names `CrmSqliteStorage`, which is Dagster's SQLite storage with this event log in it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

KEPT_ENGINES = 8   # the index and the files of the runs in progress; older ones are closed


class KeptEngineEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log; one kept engine (one open connection) per recently used file."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's lock: one connection of this storage in use at a time, so one pooled connection per file
        with self._db_lock:
            engine = self._engines.pop(shard, None) or self._new_engine(shard)
            self._engines[shard] = engine   # most recently used last
            while len(self._engines) > KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def _new_engine(self, shard: str) -> Engine:
        url = self.conn_string_for_shard(shard)
        if shard not in self._initialized_dbs:   # Dagster creates and stamps the file on an engine of its own
            first = create_engine(url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            try:
                self._initdb(first)
            finally:
                first.dispose()
            self._initialized_dbs.add(shard)
        return create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0,
                             connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})

    def close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self.close_engines()   # the run files are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self.close_engines()


class CrmSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (same folders, same files) with `KeptEngineEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        super().__init__(base_dir, inst_data)
        plain = self._event_log_storage
        self._event_log_storage = KeptEngineEventLogStorage(os.path.join(base_dir, "history", "runs", ""))
        plain.dispose()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> CrmSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

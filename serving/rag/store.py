"""The LanceDB table of passages: one table for all tenants, every row carrying its tenant_id.

Isolation rests on two things kept here: every filter is built by `tenant_filter` from ids that were
parsed as UUIDs (so nothing a caller sends can change the filter's meaning), and the BITMAP index on
tenant_id makes the tenant prefilter cheap, so it is always applied before ranking.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from crm.ids import InvalidId, parse_uuid
from crm.settings import get_settings
from serving.embeddings import DIMENSIONS

TABLE = "passages"
ENTITY_COLUMNS = ("contact_id", "company_id", "deal_id")

SCHEMA = pa.schema([
    pa.field("chunk_id", pa.string(), nullable=False),  # "<source_type>:<source_id>:<n>"
    pa.field("tenant_id", pa.string(), nullable=False),
    pa.field("source_type", pa.string(), nullable=False),  # 'note' | 'activity'
    pa.field("kind", pa.string(), nullable=False),  # 'note' or the activity type
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("chunk_index", pa.int32(), nullable=False),
    pa.field("contact_id", pa.string()),
    pa.field("company_id", pa.string()),
    pa.field("deal_id", pa.string()),
    pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("text_hash", pa.string(), nullable=False),  # md5 of the whole source text
    pa.field("vector", pa.list_(pa.float32(), DIMENSIONS), nullable=False),
])

_open_lock = threading.Lock()


class FilterError(InvalidId):
    """An id meant for a filter is not a UUID."""


def as_uuid(value: object, what: str = "id") -> str:
    """The canonical text of a UUID, or FilterError: only this ever reaches a filter string."""
    try:
        return str(parse_uuid(value, what))
    except InvalidId as exc:
        raise FilterError(str(exc)) from None


def tenant_filter(tenant_id: object, **entities: object) -> str:
    """`tenant_id = '<uuid>' [and company_id = '<uuid>' ...]`; entity filters only narrow the tenant."""
    clauses = [f"tenant_id = '{as_uuid(tenant_id, 'tenant_id')}'"]
    for column, value in entities.items():
        if column not in ENTITY_COLUMNS:
            raise FilterError(f"cannot filter passages on {column!r}")
        if value is not None:
            clauses.append(f"{column} = '{as_uuid(value, column)}'")
    return " and ".join(clauses)


def in_list(column: str, ids: list[str]) -> str:
    return f"{column} in ({', '.join(repr(as_uuid(i)) for i in ids)})"


@lru_cache(maxsize=4)
def _connect(path: str):
    # lancedb is imported here, not with the module: its imports are about 3 s of CPU, which every process that
    # imports the API or the pipelines paid, and only those that open the vector store need
    import lancedb

    Path(path).mkdir(parents=True, exist_ok=True)
    # Readers (the API) see what the indexer (another process) committed within a second.
    return lancedb.connect(path, read_consistency_interval=timedelta(seconds=1))


def connect():
    return _connect(str(get_settings().lancedb_dir))


def open_table(create: bool = False):
    """The passages table (None if it was never created and create is False)."""
    db = connect()
    with _open_lock:
        if TABLE in db.list_tables().tables:
            return db.open_table(TABLE)
        if not create:
            return None
        table = db.create_table(TABLE, schema=SCHEMA, exist_ok=True)
        ensure_indices(table)
        return table


def ensure_indices(table) -> None:
    """Full-text index on text and BITMAP on tenant_id (created once; `optimize` keeps them current)."""
    from lancedb.index import FTS, Bitmap

    names = {ix.name for ix in table.list_indices()}
    if "text_idx" not in names:
        table.create_index("text", config=FTS(with_position=False))
    if "tenant_id_idx" not in names:
        table.create_index("tenant_id", config=Bitmap())


def reset_connections() -> None:
    """Tests switch CRM_HOME: forget cached connections."""
    _connect.cache_clear()

"""Features as of now, for the touched entities only, from the one definition of each feature (dbt).

The dbt feature marts (`lead_features`, `account_features`) are compiled in live mode (see
dbt/macros/live.sql) into one self-contained PostgreSQL query each, with two bind parameters:
`:as_of_at` (the instant the features describe, naive UTC) and `:entity_ids` (contacts or companies;
None = every entity of the tenant). `pipelines/lib/live_sql.py` makes that SQL from the dbt project, so
it cannot drift from the training marts; this module only runs it, inside the caller's tenant session,
so row-level security decides which rows it reads. A parity test holds the two forms together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import polars as pl
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from crm.ids import parse_uuid

EntityType = Literal["lead", "account"]
ENTITY_KEYS: dict[str, str] = {"lead": "contact_id", "account": "company_id"}
LABELS: dict[str, str] = {"lead": "converted_90d", "account": "churned_90d"}
MARTS: dict[str, str] = {"lead": "lead_features", "account": "account_features"}


@dataclass(frozen=True)
class FeatureQueries:
    """The compiled live SQL of each feature mart and the digest of the dbt project it came from."""

    lead: str
    account: str
    digest: str
    _clauses: dict[str, TextClause] = field(default_factory=dict, repr=False, compare=False)

    def clause(self, entity_type: EntityType) -> TextClause:
        if entity_type not in ENTITY_KEYS:
            raise ValueError(f"entity_type must be 'lead' or 'account', not {entity_type!r}")
        if entity_type not in self._clauses:
            self._clauses[entity_type] = text(getattr(self, entity_type))
        return self._clauses[entity_type]


def naive_utc(instant: dt.datetime) -> dt.datetime:
    """The warehouse's timestamps are naive UTC (dbt macro to_utc); so is the instant bound into the query."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(dt.UTC).replace(tzinfo=None)


def _plain(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):  # PostgreSQL's numeric (e.g. day fractions): the model reads floats
        return float(value)
    return value


def compute(session: Session, queries: FeatureQueries, entity_type: EntityType,
            entity_ids: Sequence[uuid.UUID | str] | None, as_of_at: dt.datetime) -> pl.DataFrame:
    """One row per entity of the session's tenant that is in the population at `as_of_at` (an open lead,
    a customer account) among `entity_ids` (None: all), with the mart's columns; the label is null."""
    ids = None if entity_ids is None else [str(parse_uuid(i, ENTITY_KEYS[entity_type])) for i in entity_ids]
    if ids == []:
        ids = [str(uuid.UUID(int=0))]  # no entity: the query still returns its columns, with no row
    result = session.execute(queries.clause(entity_type), {"as_of_at": naive_utc(as_of_at), "entity_ids": ids})
    columns = list(result.keys())
    rows = result.all()
    data = {name: [_plain(row[i]) for row in rows] for i, name in enumerate(columns)}
    return pl.DataFrame(data, strict=False, infer_schema_length=None)

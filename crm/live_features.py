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


# How the narrowing of dbt/macros/live.sql asks "no ids given, every entity?". It is decided here, once per
# clause, rather than by PostgreSQL per execution: with the question left to a bind parameter, a prepared
# statement's generic plan cannot use the entity indexes, so PostgreSQL kept planning every execution afresh
# (18-20 ms of planning against 2-8 ms of execution for one touched entity in a demo-sized agency).
EVERY_ENTITY = "cast(:entity_ids as uuid[]) is null"
# Once the driver has prepared a mart's query on a connection (psycopg: from its 6th execution there), its
# generic plan, made once, serves every execution: for one touched contact PostgreSQL chose a custom plan every
# time, 15-20 ms of planning for 2-3 ms of execution, where the generic plan runs in 3-10 ms with no planning (a
# demo-sized agency; batches of 20 and 300 ids were no slower). The setting is put back after the statement.
_GENERIC_PLAN = text("select current_setting('plan_cache_mode') as before, "
                     "set_config('plan_cache_mode', 'force_generic_plan', true)")
_PLAN_AS_BEFORE = text("select set_config('plan_cache_mode', :before, true)")


@dataclass(frozen=True)
class FeatureQueries:
    """The compiled live SQL of each feature mart and the digest of the dbt project it came from."""

    lead: str
    account: str
    digest: str
    _clauses: dict[tuple[str, bool], TextClause] = field(default_factory=dict, repr=False, compare=False)

    def clause(self, entity_type: EntityType, every: bool = False) -> TextClause:
        """The mart's query for the touched `:entity_ids`, or with `every` for every entity of the tenant."""
        if entity_type not in ENTITY_KEYS:
            raise ValueError(f"entity_type must be 'lead' or 'account', not {entity_type!r}")
        if (entity_type, every) not in self._clauses:
            sql = getattr(self, entity_type).replace(EVERY_ENTITY, "true" if every else "false")
            self._clauses[entity_type, every] = text(sql)
        return self._clauses[entity_type, every]


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
    before = session.execute(_GENERIC_PLAN).scalar_one()
    result = session.execute(queries.clause(entity_type, every=ids is None),
                             {"as_of_at": naive_utc(as_of_at), "entity_ids": ids})
    columns = list(result.keys())
    rows = result.all()
    session.execute(_PLAN_AS_BEFORE, {"before": before})
    data = {name: [_plain(row[i]) for row in rows] for i, name in enumerate(columns)}
    return pl.DataFrame(data, strict=False, infer_schema_length=None)

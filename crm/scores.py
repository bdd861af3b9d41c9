"""Published scores in PostgreSQL: the one place they are read and the one place they are written.

Three tenant-owned tables under row-level security, filled by batch scoring (serving/batch.py, `publish`)
and the live refresh (serving/live/refresh.py, `refresh`): `scores` (the current score per entity),
`score_history` (one row per entity per run) and `analytics.features_latest` (the feature row each current
score was computed from, for what-if scoring). Every function takes the caller's tenant session
(`tenant_session`, or the request's), so RLS decides what exists; the reads add `tenant_id = app_tenant_id()`
on top so an index on tenant_id serves them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, String, Uuid, bindparam, text
from sqlalchemy.orm import Session

from crm import events

ENTITY_TYPES = ("lead", "account")
COLUMNS = "score, probability, tier, factors, model_name, model_version, model_kind, scored_at"
TENANT_HISTORY_COLUMNS = ("entity_id", "score", "probability", "tier", "model_name", "model_version", "scored_at")


# --- reads -------------------------------------------------------------------------------------------


# The entity's current score (COLUMNS), zero or one row; binds `e` (entity type) and `i` (entity id).
CURRENT = text(f"select {COLUMNS} from scores where tenant_id = app_tenant_id() and entity_type = :e "
               "and entity_id = :i").bindparams(bindparam("e", type_=String()), bindparam("i", type_=Uuid()))


def current(session: Session, entity_type: str, entity_id: uuid.UUID | str) -> Row | None:
    """The entity's current score (COLUMNS), or None when it has none."""
    return session.execute(CURRENT, {"e": entity_type, "i": uuid.UUID(str(entity_id))}).first()


def current_many(session: Session, entity_type: str, entity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Current scores of several entities by id (entity_id + COLUMNS); ids without a score are absent."""
    rows = session.execute(text(f"select entity_id, {COLUMNS} from scores where tenant_id = app_tenant_id() "
                                "and entity_type = :e and entity_id = any(:ids)"),
                           {"e": entity_type, "ids": list(entity_ids)}).all()
    return {row.entity_id: row for row in rows}


def as_of(session: Session, entity_type: str, entity_id: uuid.UUID | str, day: dt.date) -> Row | None:
    """The score as it stood at the end of `day` (UTC): the newest history row before the next midnight."""
    return session.execute(text(
        f"select {COLUMNS} from score_history where tenant_id = app_tenant_id() and entity_type = :e "
        "and entity_id = :i and scored_at < cast(:d as date) + 1 order by scored_at desc, id desc limit 1"),
        {"e": entity_type, "i": entity_id, "d": day}).first()


def history(session: Session, entity_type: str, entity_id: uuid.UUID | str, limit: int = 120) -> list[dict]:
    """The entity's newest `limit` runs as {scored_at, score}, oldest first (a sparkline)."""
    rows = session.execute(text(
        "select scored_at, score from (select scored_at, score from score_history where tenant_id = app_tenant_id() "
        "and entity_type = :e and entity_id = :i order by scored_at desc limit :n) h order by scored_at"),
        {"e": entity_type, "i": entity_id, "n": limit})
    return [dict(r._mapping) for r in rows]


def tenant_history(session: Session, entity_type: str, runs: int | None = None) -> list[tuple]:
    """Every score_history row of the tenant for `entity_type` (TENANT_HISTORY_COLUMNS), oldest run first;
    `runs` keeps the newest N runs (a run = one `scored_at`)."""
    newest = ("and scored_at in (select distinct scored_at from score_history where tenant_id = app_tenant_id() "
              "and entity_type = :e order by scored_at desc limit :n)") if runs else ""
    rows = session.execute(text(
        "select cast(entity_id as text) as entity_id, score, probability, tier, model_name, model_version, "
        f"scored_at from score_history where tenant_id = app_tenant_id() and entity_type = :e {newest} "
        "order by scored_at, entity_id"), {"e": entity_type, "n": runs})
    return [tuple(r) for r in rows]


def published_features(session: Session, entity_type: str, entity_id: uuid.UUID | str) -> dict[str, Any] | None:
    """The feature row the entity's current score was computed from, or None when none was published."""
    row = session.execute(text("select features from analytics.features_latest where tenant_id = app_tenant_id() "
                               "and entity_type = :e and entity_id = :i"), {"e": entity_type, "i": entity_id}).first()
    return None if row is None else row.features


# --- the write -----------------------------------------------------------------------------------------

_UPSERT = text("""
insert into scores (tenant_id, entity_type, entity_id, score, probability, tier, factors, model_name,
                    model_version, model_kind, scored_at)
values (app_tenant_id(), :entity_type, :entity_id, :score, :probability, :tier, cast(:factors as jsonb),
        :model_name, :model_version, :model_kind, :scored_at)
on conflict (tenant_id, entity_type, entity_id) do update set
  score = excluded.score, probability = excluded.probability, tier = excluded.tier, factors = excluded.factors,
  model_name = excluded.model_name, model_version = excluded.model_version, model_kind = excluded.model_kind,
  scored_at = excluded.scored_at
""")
_HISTORY = text("""
insert into score_history (tenant_id, entity_type, entity_id, score, probability, tier, factors, model_name,
                           model_version, model_kind, scored_at)
values (app_tenant_id(), :entity_type, :entity_id, :score, :probability, :tier, cast(:factors as jsonb),
        :model_name, :model_version, :model_kind, :scored_at)
""")
_FEATURES = text("""
insert into analytics.features_latest (tenant_id, entity_type, entity_id, as_of_date, features, published_at)
values (app_tenant_id(), :entity_type, :entity_id, :as_of_date, cast(:features as jsonb), :published_at)
on conflict (tenant_id, entity_type, entity_id) do update set
  as_of_date = excluded.as_of_date, features = excluded.features, published_at = excluded.published_at
""")


def publish(session: Session, entity_type: str, scores: list[dict], features: list[dict]) -> None:
    """Publish one tenant's run for `entity_type`: `scores` become the current scores and one history row
    each, `features` the published feature rows; entities of that type missing from the run lose their
    current score and features (a lead that converted), never their history.

    `scores`: entity_id, score, probability, tier, factors (JSON text), model_name, model_version,
    model_kind ('learned' | 'bg_nbd' | 'survival' | 'engagement'), scored_at;
    `features`: entity_id, as_of_date, features (JSON text), published_at. The tenant is the session's.
    """
    ids = [s["entity_id"] for s in scores] + [f["entity_id"] for f in features]
    for table in ("scores", "analytics.features_latest"):
        session.execute(text(f"delete from {table} where tenant_id = app_tenant_id() and entity_type = :e "
                             "and not (entity_id = any(cast(:ids as uuid[])))"), {"e": entity_type, "ids": ids})
    _write(session, entity_type, scores, features)


def refresh(session: Session, entity_type: str, scores: list[dict], features: list[dict],
            retired: Sequence[uuid.UUID | str] = ()) -> None:
    """Publish the scores and features of some entities (the live path), leaving every other entity as it
    is; `retired` entities (no longer a lead or an account, or deleted) lose their current score and
    features, never their history. Same row shapes as `publish`."""
    if retired:
        for table in ("scores", "analytics.features_latest"):
            session.execute(text(f"delete from {table} where tenant_id = app_tenant_id() and entity_type = :e "
                                 "and entity_id = any(cast(:ids as uuid[]))"),
                            {"e": entity_type, "ids": [str(i) for i in retired]})
    _write(session, entity_type, scores, features)


# A published score that moved is an AI signal (`crm.events`): workflows and webhooks act on it.
SIGNALS = {"lead": ("lead_score.changed", "contact"), "account": ("churn_risk.changed", "company")}
MOVED_POINTS = 1.0   # probability x 100: a move smaller than a point is noise, not news


def announce_moves(session: Session, entity_type: str, scores: list[dict]) -> int:
    """Before `scores` replace the current ones: one `lead_score.changed` / `churn_risk.changed` event per
    entity whose probability moved by at least a point or whose tier changed (a first score moves from
    nothing), `{"probability": [old, new], "tier": [old, new]}`. One read of the previous scores for all."""
    event_type, label = SIGNALS[entity_type]
    before = current_many(session, entity_type, [uuid.UUID(str(s["entity_id"])) for s in scores])
    moved = 0
    for score in scores:
        entity_id = uuid.UUID(str(score["entity_id"]))
        old = before.get(entity_id)
        new_p, new_tier = float(score["probability"]), score["tier"]
        if old is not None and old.tier == new_tier and \
                round(abs(new_p - old.probability) * 100, 6) < MOVED_POINTS:
            continue
        events.emit(session, event_type, label, entity_id,
                    {"probability": [None if old is None else old.probability, new_p],
                     "tier": [None if old is None else old.tier, new_tier]})
        moved += 1
    return moved


def _write(session: Session, entity_type: str, scores: list[dict], features: list[dict]) -> None:
    if scores:
        announce_moves(session, entity_type, scores)
        rows = [{**s, "entity_type": entity_type} for s in scores]
        session.execute(_UPSERT, rows)
        session.execute(_HISTORY, rows)
    if features:
        session.execute(_FEATURES, [{**f, "entity_type": entity_type} for f in features])

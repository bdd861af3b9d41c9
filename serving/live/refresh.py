"""The score lane: what a change touched is re-scored as of now, in the transaction that claims it.

A claim takes up to `limit` rows of the tenant's `live_refresh_queue` (written by triggers in the same
transaction as every write, whatever its path). The touched contacts and companies are widened to what
their features depend on, then, inside the same tenant transaction:

1. sentiment of their new or changed texts (VADER, `text_sentiment`);
2. features as of now from the compiled dbt marts (`crm.live_features.compute`, touched ids only);
3. the champion's score and reasons, a `score_history` row, the published feature row (`crm.scores.refresh`);
   an entity that is no longer in its population (a lead that became a customer, a deleted contact, a
   churned account) loses its current score, never its history.

The claim is a `delete ... returning`: the transaction commits the work and the removal from the queue
together, so a refresher killed mid-batch leaves its rows queued for the next one, and nothing is done twice.
The same `refresh_entities` serves batch scoring (every entity of a tenant) so both publish alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import scores as published
from crm.db.engine import tenant_session
from crm.live_features import ENTITY_KEYS, EntityType, FeatureQueries, compute
from crm.live_queue import claim_refresh
from serving.choice import MODEL_NAMES, score_with, scorer_for
from serving.models import ChampionModels, LoadedModel, champions
from serving.publication import feature_records, score_records
from serving.sentiment import score_pending

log = logging.getLogger(__name__)


@dataclass
class EntityRefresh:
    entity_type: str
    computed: int = 0   # entities in the population whose features were computed
    scored: int = 0     # of those, scored (0 while no champion exists)
    retired: int = 0    # touched entities no longer in the population: current score removed
    kind: str = ""      # the kind of model that scored them ('learned', 'bg_nbd', 'survival', 'engagement'; '' = none)


@dataclass
class RefreshBatch:
    tenant_id: str
    claimed: int = 0
    texts_scored: int = 0
    leads: EntityRefresh = field(default_factory=lambda: EntityRefresh("lead"))
    accounts: EntityRefresh = field(default_factory=lambda: EntityRefresh("account"))
    as_of: dt.datetime | None = None
    lags: list[float] = field(default_factory=list)  # seconds from each claimed change to the commit

    @property
    def scored(self) -> int:
        return self.leads.scored + self.accounts.scored


def _ids(values: Iterable) -> list[uuid.UUID]:
    return sorted({v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in values if v is not None})


def widen(session: Session, rows: list) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(contacts, companies) whose features a batch of changes can move: a contact's own features and its
    company's (activities and texts roll up to the account); a changed company row also moves its
    contacts' lead features (company size and industry are lead features)."""
    contacts = {r.entity_id for r in rows if r.entity_type == "contact"}
    companies = {r.entity_id for r in rows if r.entity_type == "company"}
    if contacts:
        companies |= set(session.execute(text(
            "select company_id from contacts where tenant_id = app_tenant_id() and id = any(:ids) "
            "and company_id is not null"), {"ids": _ids(contacts)}).scalars())
    changed_companies = {r.entity_id for r in rows if r.entity_type == "company" and r.source_table == "companies"}
    if changed_companies:
        contacts |= set(session.execute(text(
            "select id from contacts where tenant_id = app_tenant_id() and company_id = any(:ids)"),
            {"ids": _ids(changed_companies)}).scalars())
    return _ids(contacts), _ids(companies)


def refresh_entities(session: Session, queries: FeatureQueries, entity_type: EntityType,
                     entity_ids: list[uuid.UUID] | None, as_of: dt.datetime,
                     model: LoadedModel | None) -> EntityRefresh:
    """Features as of `as_of`, scored by the tenant's chosen model (its fallback, or the champion `model`;
    neither: features only) and published, for these entities of the session's tenant (None: all of them,
    and every other published entity of that type is retired: the batch run)."""
    out = EntityRefresh(entity_type)
    if entity_ids == []:
        return out
    frame = compute(session, queries, entity_type, entity_ids, as_of)
    key = ENTITY_KEYS[entity_type]
    scorer = scorer_for(session, entity_type, model)
    scored = score_with(scorer, entity_type, frame) if scorer is not None and frame.height else []
    out.kind = scored[0].model_kind if scored else ""
    score_rows, feature_rows = score_records(scored, as_of), feature_records(frame, key, as_of)
    if entity_ids is None:
        published.publish(session, entity_type, score_rows, feature_rows)
    else:
        present = {uuid.UUID(i) for i in frame[key].to_list()} if frame.height else set()
        retired = [i for i in entity_ids if i not in present]
        published.refresh(session, entity_type, score_rows, feature_rows, retired)
        out.retired = len(retired)
    out.computed, out.scored = frame.height, len(scored)
    return out


def refresh_tenant(tenant_id: uuid.UUID | str, queries: FeatureQueries, limit: int = 500,
                   models: ChampionModels | None = None, newer_than: int | None = None) -> RefreshBatch:
    """Claim up to `limit` queued changes of one tenant (with `newer_than`: only those queued after that id)
    and refresh what they touched, in one transaction."""
    batch = RefreshBatch(str(tenant_id))
    with tenant_session(tenant_id) as session:
        rows = claim_refresh(session, limit, newer_than)
        if not rows:
            return batch
        batch.claimed = len(rows)
        contacts, companies = widen(session, rows)
        batch.texts_scored, _ = score_pending(session, contact_ids=contacts, company_ids=companies)
        batch.as_of = dt.datetime.now(dt.UTC)
        models = models or champions()
        for entity_type, ids in (("lead", contacts), ("account", companies)):
            setattr(batch, f"{entity_type}s", refresh_entities(session, queries, entity_type, ids, batch.as_of,
                                                               models.get(MODEL_NAMES[entity_type])))
    committed = dt.datetime.now(dt.UTC)
    batch.lags = [(committed - r.queued_at).total_seconds() for r in rows]
    log.info("tenant %s: %d changes -> %d leads, %d accounts refreshed (%d scored)", tenant_id, batch.claimed,
             batch.leads.computed, batch.accounts.computed, batch.scored)
    return batch

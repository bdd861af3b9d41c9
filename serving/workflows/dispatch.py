"""The dispatcher: record events become workflow runs and webhook deliveries, each exactly once.

One pass drops the waiting events of tenants with no enabled event workflow and no enabled webhook subscription
(one statement), then visits every other tenant with events waiting in `record_events` (the outbox written by
every service write and every AI signal, slice A). For each tenant, in one transaction of that tenant:

1. claim up to `limit` events, oldest first: lock them (`for update skip locked`, so two dispatchers never
   take the same event and never wait on each other) and delete them (`delete ... returning`);
2. for each event, every enabled workflow of the tenant whose trigger matches (`crm.workflows.triggers`) and
   whose conditions hold on the record as it is now gets a run (`start_runs`, one statement for the batch,
   trigger key `event:<id>`);
3. every event that an enabled subscription of the tenant wants is offered to its subscriptions
   (`crm.webhooks.enqueue`, idempotency key `event:<id>`); runs are announced with one NOTIFY per batch.

The claim commits with the runs and deliveries it produced, or rolls back with them: a dispatcher killed
mid-batch leaves the events queued, and the unique trigger key / idempotency key make a repeat create nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import events
from crm.db.engine import admin_session, tenant_session
from crm.events import RecordEvent
from crm.webhooks import enqueue
from crm.webhooks.outbox import patterns_matching
from crm.workflows.runs import notify_runs, start_runs
from crm.workflows.triggers import EVENT_TRIGGERS, matches
from serving.workflows.records import condition_view, conditions_pass, load_records

log = logging.getLogger(__name__)
BATCH = 500

_SUBSCRIBED_TYPES = text("select distinct unnest(event_types) from webhook_subscriptions "
                         "where tenant_id = app_tenant_id() and enabled")
_EVENT_WORKFLOWS = text("""
select id, definition from workflows
 where tenant_id = app_tenant_id() and enabled and definition->'trigger'->>'type' = any(:types)
 order by created_at, id
""")


@dataclass
class DispatchReport:
    events: int = 0
    dropped: int = 0   # events of tenants with no enabled event workflow and no enabled subscription
    runs: int = 0
    deliveries: int = 0
    tenants: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def add(self, other: DispatchReport) -> None:
        self.events += other.events
        self.runs += other.runs
        self.deliveries += other.deliveries
        self.dropped += other.dropped
        self.tenants |= other.tenants
        self.failed |= other.failed


_RUN_WORKFLOWS = text("select id, workflow_id from workflow_runs where tenant_id = app_tenant_id() "
                      "and id = any(cast(:ids as uuid[]))")


# The events of tenants that nothing would act on: no enabled workflow with an event trigger, no enabled
# webhook subscription. Events visible to this statement predate any workflow or subscription being enabled
# now, as they would if this pass had dispatched them a moment earlier.
_DROP_UNWANTED = text("""
with unwanted as (
  select t.tenant_id from (select distinct tenant_id from record_events) t
   where not exists (select from workflows w where w.tenant_id = t.tenant_id and w.enabled
                       and w.definition->'trigger'->>'type' = any(:types))
     and not exists (select from webhook_subscriptions s where s.tenant_id = t.tenant_id and s.enabled))
delete from record_events e using unwanted u where e.tenant_id = u.tenant_id
""")


def pending_tenants() -> tuple[int, list[str]]:
    """(events dropped, tenants with events waiting that an enabled event workflow or webhook subscription of
    theirs may want). Every other tenant's events are dropped first, all in one statement: nothing would come
    of them, and a transaction of the tenant's own per batch (claim, read its workflows and subscriptions,
    commit) cost the worker about 4 ms of CPU per write of an agency without automation."""
    with admin_session() as session:
        dropped = session.execute(_DROP_UNWANTED, {"types": list(EVENT_TRIGGERS)}).rowcount
        return dropped, [str(t) for t in events.pending_tenants(session)]


def event_payload(event: RecordEvent) -> dict:
    """The event as a webhook body and as a run's trigger: JSON-ready."""
    return {"event_id": event.id, "event_type": event.event_type, "entity_type": event.entity_type,
            "entity_id": str(event.entity_id), "changes": event.changes,
            "actor": {"type": event.actor_type, "id": None if event.actor_id is None else str(event.actor_id)},
            "occurred_at": event.occurred_at.isoformat()}


def _own_runs(session: Session, claimed: list[RecordEvent]) -> dict[uuid.UUID, uuid.UUID]:
    """{run id: workflow id} of the runs that wrote some of these events (actor `workflow_run`)."""
    runs = {e.actor_id for e in claimed if e.actor_type == "workflow_run" and e.actor_id is not None}
    if not runs:
        return {}
    return dict(session.execute(_RUN_WORKFLOWS, {"ids": [str(r) for r in runs]}).tuples().all())


def _fires(trigger: dict, event: RecordEvent) -> bool:
    try:
        return matches(trigger, event)
    except Exception:   # a definition the validator let through but this cannot read: that workflow only
        log.warning("trigger %r could not be matched against event %s", trigger, event.id, exc_info=True)
        return False


def dispatch_events(session: Session, claimed: list[RecordEvent]) -> DispatchReport:
    """Runs and deliveries for claimed events, in the caller's tenant transaction."""
    report = DispatchReport(events=len(claimed))
    workflows = session.execute(_EVENT_WORKFLOWS, {"types": list(EVENT_TRIGGERS)}).all()
    # a run's own writes never start its workflow again (an update_field step on a "deal updated" workflow
    # would otherwise loop for ever)
    written_by = _own_runs(session, claimed) if workflows else {}
    fired = [(event, wf) for event in claimed for wf in workflows
             if written_by.get(event.actor_id) != wf.id and _fires(wf.definition["trigger"], event)]
    wanted: dict[str, set[uuid.UUID]] = {}
    for event, wf in fired:
        if wf.definition.get("conditions"):
            wanted.setdefault(event.entity_type, set()).add(event.entity_id)
    records = {kind: load_records(session, kind, ids) for kind, ids in wanted.items()}
    starts = []
    for event, wf in fired:
        conditions = wf.definition.get("conditions") or []
        if conditions:
            record = condition_view(records[event.entity_type].get(event.entity_id), event)
            if not conditions_pass(conditions, record):
                continue
        starts.append((wf.id, f"event:{event.id}", {"type": "event", "event": event_payload(event)},
                       event.entity_type, event.entity_id))
    report.runs = start_runs(session, starts)   # one statement for the batch
    if report.runs:
        notify_runs(session)
    # only events some enabled subscription wants are offered (a statement each), the others cost nothing
    wanted_types = set(session.execute(_SUBSCRIBED_TYPES).scalars())
    for event in claimed:
        if wanted_types.isdisjoint(patterns_matching(event.event_type)):
            continue
        report.deliveries += len(enqueue(session, event_type=event.event_type, payload=event_payload(event),
                                         idempotency_key=f"event:{event.id}"))
    return report


def dispatch_tenant(tenant_id: str, limit: int = BATCH) -> DispatchReport:
    with tenant_session(tenant_id) as session:
        claimed = events.claim(session, limit)
        report = dispatch_events(session, claimed) if claimed else DispatchReport()
    if claimed:
        report.tenants.add(str(tenant_id))
    return report


def dispatch(limit: int = BATCH, skip: Collection[str] = ()) -> DispatchReport:
    """One batch of every tenant with events waiting, but those in `skip` (a tenant whose batch fails is logged
    and reported in `failed`: its events stay queued)."""
    dropped, pending = pending_tenants()
    report = DispatchReport(dropped=dropped)
    for tenant_id in pending:
        if tenant_id in skip:
            continue
        try:
            report.add(dispatch_tenant(tenant_id, limit))
        except Exception:
            log.exception("dispatching tenant %s's events failed; they stay queued", tenant_id)
            report.failed.add(tenant_id)
    return report

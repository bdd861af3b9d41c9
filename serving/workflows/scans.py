"""Triggers no event announces: records gone quiet (inactivity) and the clock (schedule).

The worker runs `scan()` every `scan_seconds`. Both are idempotent by their run's trigger key, so a scan
repeated, or two workers scanning at once, start nothing twice (`start_run` is insert-or-nothing on
(workflow, trigger key)):

- inactivity `{"entity": "deal"|"contact"|"company", "days": N}`: every record whose last activity is more
  than N days old gets one run per quiet spell, key `inactivity:<id>:<date of last activity>`. Last activity
  is the latest of the record's own `updated_at` and the `occurred_at` of its activities and notes (none in the
  future); a new activity starts a new spell, which fires again after N more days. The workflow's conditions
  are evaluated on the record as it is (e.g. `status eq open` for deals). At most `MAX_RUNS_PER_SCAN` runs per
  workflow per scan: the rest start on the next scans (they have no run yet), so enabling a workflow over an
  agency's years of quiet records spreads its runs out instead of flooding the runner at once.
- schedule `{"every_minutes": M}`: one run per slot of M minutes since the Unix epoch, key
  `schedule:<slot start, ISO 8601 UTC>`, with no record (conditions are not evaluated: there is no record).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.engine import admin_engine, tenant_session
from crm.workflows.runs import start_run
from serving.workflows.records import condition_view, conditions_pass, load_records

log = logging.getLogger(__name__)
MAX_RUNS_PER_SCAN = 500
CHUNK = 500
SCANNED = ("inactivity", "schedule")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_TENANTS = text("select distinct cast(tenant_id as text) from workflows where enabled "
                "and definition->'trigger'->>'type' = any(:types)")
_WORKFLOWS = text("select id, definition from workflows where tenant_id = app_tenant_id() and enabled "
                  "and definition->'trigger'->>'type' = any(:types) order by created_at, id")
# (table, the column activities and notes point at it with, the record's own latest move besides its creation)
QUIET = {"deal": ("deals", "deal_id", "(select max(h.changed_at) from deal_stage_history h "
                                      "where h.tenant_id = e.tenant_id and h.deal_id = e.id)"),
         "contact": ("contacts", "contact_id", "null"), "company": ("companies", "company_id", "null")}
_KEY = "'inactivity:' || r.id || ':' || to_char(r.last_at at time zone 'UTC', 'YYYY-MM-DD')"
_QUIET_SQL = """
with acts as (
  select {col} as id, max(occurred_at) as at from activities
   where tenant_id = app_tenant_id() and {col} is not null and occurred_at <= now() group by {col}
), texts as (
  select {col} as id, max(occurred_at) as at from notes
   where tenant_id = app_tenant_id() and {col} is not null and occurred_at <= now() group by {col}
), last as (
  select e.id, greatest(e.created_at, {moved}, a.at, n.at) as last_at
    from {table} e left join acts a on a.id = e.id left join texts n on n.id = e.id
   where e.tenant_id = app_tenant_id()
)
select r.id, r.last_at, {key} as trigger_key from last r
 where r.last_at < now() - make_interval(days => :days)
   and not exists (select 1 from workflow_runs w where w.tenant_id = app_tenant_id() and w.workflow_id = :wf
                    and w.trigger_key = {key})
 order by r.last_at, r.id
"""


@dataclass
class ScanReport:
    runs: int = 0
    tenants: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


def slot_start(now: dt.datetime, every_minutes: int) -> dt.datetime:
    step = dt.timedelta(minutes=every_minutes)
    return EPOCH + ((now - EPOCH) // step) * step


def scan_schedule(session: Session, wf, now: dt.datetime) -> int:
    slot = slot_start(now, int(wf.definition["trigger"]["every_minutes"])).isoformat()
    return start_run(session, wf.id, f"schedule:{slot}", {"type": "schedule", "slot": slot}, None, None) is not None


def scan_inactivity(session: Session, wf) -> int:
    trigger = wf.definition["trigger"]
    entity, days = trigger["entity"], int(trigger["days"])
    table, col, moved = QUIET[entity]
    quiet = session.execute(text(_QUIET_SQL.format(table=table, col=col, moved=moved, key=_KEY)),
                            {"days": days, "wf": wf.id}).all()
    conditions = wf.definition.get("conditions") or []
    started = 0
    for at in range(0, len(quiet), CHUNK):
        chunk = quiet[at:at + CHUNK]
        records = load_records(session, entity, [r.id for r in chunk]) if conditions else {}
        for row in chunk:
            if conditions and not conditions_pass(conditions, condition_view(records.get(row.id))):
                continue
            trigger_info = {"type": "inactivity", "days": days, "last_activity_at": row.last_at.isoformat()}
            started += start_run(session, wf.id, row.trigger_key, trigger_info, entity, row.id) is not None
            if started >= MAX_RUNS_PER_SCAN:
                return started
    return started


def scan_tenant(tenant_id: str, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    with tenant_session(tenant_id) as session:
        started = 0
        for wf in session.execute(_WORKFLOWS, {"types": list(SCANNED)}).all():
            if wf.definition["trigger"]["type"] == "schedule":
                started += scan_schedule(session, wf, now)
            else:
                started += scan_inactivity(session, wf)
        return started


def scan(now: dt.datetime | None = None) -> ScanReport:
    """Every tenant with an enabled inactivity or schedule workflow (a failing tenant is logged and skipped)."""
    report = ScanReport()
    with admin_engine().connect() as conn:
        tenants = list(conn.execute(_TENANTS, {"types": list(SCANNED)}).scalars())
    for tenant_id in tenants:
        try:
            started = scan_tenant(tenant_id, now)
        except Exception:
            log.exception("scanning tenant %s's inactivity and schedule workflows failed", tenant_id)
            report.failed.add(tenant_id)
            continue
        if started:
            report.runs += started
            report.tenants.add(tenant_id)
    return report

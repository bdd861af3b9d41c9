"""The deal board of one pipeline and the expected-revenue forecast of its open deals."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm.db.models import Pipeline, PipelineStage

CARDS_PER_STAGE = 40
CLOSED_DAYS = 90  # won and lost columns show recent closes only; older ones are history, not work
FORECAST_MONTHS = 6


def pipelines(session: Session) -> list[Pipeline]:
    return list(session.scalars(select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.created_at)).all())


def board(session: Session, pipeline_id: uuid.UUID) -> list[dict]:
    """Stages in order with their deals (largest first): open deals, and deals closed in CLOSED_DAYS."""
    stages = session.scalars(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                             .order_by(PipelineStage.position)).all()
    rows = session.execute(text(
        "select * from (select d.id, d.name, d.amount, d.currency, d.expected_close_date, d.stage_id, d.status, "
        "d.closed_at, co.name as company, d.company_id, "
        "row_number() over (partition by d.stage_id order by d.amount desc, d.id) as rank, "
        "count(*) over (partition by d.stage_id) as in_stage, "
        "sum(d.amount) over (partition by d.stage_id) as stage_value "
        "from deals d left join companies co on co.id = d.company_id where d.pipeline_id = :p "
        "and (d.status = 'open' or d.closed_at >= now() - make_interval(days => :closed_days))) x "
        "where rank <= :n order by amount desc"),
        {"p": pipeline_id, "n": CARDS_PER_STAGE, "closed_days": CLOSED_DAYS})
    by_stage: dict[uuid.UUID, list[dict]] = {}
    for r in rows:
        by_stage.setdefault(r.stage_id, []).append(dict(r._mapping))
    out = []
    for s in stages:
        cards = by_stage.get(s.id, [])
        out.append({"stage": s, "deals": cards, "count": cards[0]["in_stage"] if cards else 0,
                    "value": cards[0]["stage_value"] if cards else 0})
    return out


def forecast(session: Session, pipeline_id: uuid.UUID, months: int = FORECAST_MONTHS) -> dict:
    """Expected revenue = amount * the stage's win probability, by month of expected close.
    Deals whose close date has passed while still open are counted in 'Overdue'; undated ones apart."""
    today = datetime.now(UTC).date()
    rows = session.execute(text(
        "select date_trunc('month', d.expected_close_date)::date as month, "
        "sum(d.amount * s.win_probability) as expected, sum(d.amount) as value, count(*) as deals "
        "from deals d join pipeline_stages s on s.id = d.stage_id "
        "where d.pipeline_id = :p and d.status = 'open' group by 1"), {"p": pipeline_id})
    first = date(today.year, today.month, 1)
    keys = []
    for i in range(months):
        m = first.month - 1 + i
        keys.append(date(first.year + m // 12, m % 12 + 1, 1))
    buckets = {k: {"expected": 0.0, "value": 0.0, "deals": 0} for k in keys}
    overdue = {"expected": 0.0, "value": 0.0, "deals": 0}
    later = {"expected": 0.0, "value": 0.0, "deals": 0}
    undated = {"expected": 0.0, "value": 0.0, "deals": 0}
    for r in rows:
        target = (undated if r.month is None else overdue if r.month < first
                  else buckets.get(r.month, later))
        target["expected"] += float(r.expected or 0)
        target["value"] += float(r.value or 0)
        target["deals"] += r.deals
    labels = [k.strftime("%b %Y") for k in keys]
    return {"labels": labels, "months": [buckets[k] for k in keys], "overdue": overdue, "later": later,
            "undated": undated, "total": sum(b["expected"] for b in buckets.values()) + overdue["expected"]}

"""Home page figures, read live from the system of record (they must match what staff just typed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from dashboards.data.common import table_exists

AT_RISK_PROBABILITY = 0.5  # an account whose churn probability is at least this is "at risk"


def new_leads(session: Session, days: int = 30) -> dict:
    row = session.execute(text(
        "select count(*) filter (where created_at >= now() - make_interval(days => :d)) as current, "
        "count(*) filter (where created_at >= now() - make_interval(days => 2 * :d) "
        "and created_at < now() - make_interval(days => :d)) as previous from contacts"), {"d": days}).one()
    return {"current": row.current, "previous": row.previous, "days": days}


def pipeline_by_stage(session: Session) -> list[dict]:
    """Open deal value per stage of every pipeline, in stage order."""
    rows = session.execute(text(
        "select p.name as pipeline, s.name as stage, s.position, count(d.id) as deals, "
        "coalesce(sum(d.amount), 0) as value, coalesce(sum(d.amount * s.win_probability), 0) as weighted "
        "from pipeline_stages s join pipelines p on p.id = s.pipeline_id "
        "left join deals d on d.stage_id = s.id and d.status = 'open' "
        "where not s.is_won and not s.is_lost "
        "group by p.name, p.is_default, p.created_at, s.name, s.position "
        "order by p.is_default desc, p.created_at, s.position"))
    return [dict(r._mapping) for r in rows]


def win_rate(session: Session, days: int = 90) -> dict:
    row = session.execute(text(
        "select count(*) filter (where status = 'won') as won, count(*) filter (where status = 'lost') as lost, "
        "coalesce(sum(amount) filter (where status = 'won'), 0) as won_value from deals "
        "where status in ('won', 'lost') and closed_at >= now() - make_interval(days => :d)"), {"d": days}).one()
    closed = row.won + row.lost
    return {"rate": row.won / closed if closed else None, "won": row.won, "lost": row.lost,
            "won_value": row.won_value, "days": days}


def at_risk_accounts(session: Session) -> dict:
    row = session.execute(text(
        "select count(*) filter (where s.probability >= :p) as at_risk, count(s.entity_id) as scored, "
        "count(*) as customers from companies c left join scores s "
        "on s.entity_type = 'account' and s.entity_id = c.id where c.lifecycle = 'customer'"),
        {"p": AT_RISK_PROBABILITY}).one()
    return {"at_risk": row.at_risk, "scored": row.scored, "customers": row.customers}


OUTREACH = "('email_sent', 'call', 'meeting')"
LIVE_TREND = (
    "select date_trunc('week', occurred_at at time zone 'UTC')::date as week, "
    f"count(*) filter (where type in {OUTREACH}) as outreach, "
    f"count(*) filter (where type not in {OUTREACH}) as engagement "
    "from activities where occurred_at >= :start group by 1")
MART_TREND = (
    "select date_trunc('week', activity_date)::date as week, "
    f"coalesce(sum(activity_count) filter (where activity_type in {OUTREACH}), 0) as outreach, "
    f"coalesce(sum(activity_count) filter (where activity_type not in {OUTREACH}), 0) as engagement "
    "from analytics.activities_daily where activity_date >= :start group by 1")


def activity_trend(session: Session, weeks: int = 26) -> dict:
    """Activities per week (Monday start) for the last `weeks` weeks, split into outreach (emails sent,
    calls, meetings) and engagement (opens, clicks, replies, visits, forms, orders, tickets)."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows, source = [], "live"
    if table_exists(session, "analytics.activities_daily"):
        # the data platform's daily mart (made for this chart): cheap at any size, one pipeline run behind
        rows = session.execute(text(MART_TREND), {"start": start}).all()
        source = "analytics.activities_daily"
    if not rows:
        rows, source = session.execute(text(LIVE_TREND), {"start": start}).all(), "live"
    by_week = {r.week: r for r in rows}
    labels, outreach, engagement = [], [], []
    for i in range(weeks):
        w = start + timedelta(days=7 * i)
        labels.append(w.strftime("%d %b"))
        r = by_week.get(w)
        outreach.append(int(r.outreach) if r else 0)
        engagement.append(int(r.engagement) if r else 0)
    return {"labels": labels, "outreach": outreach, "engagement": engagement, "weeks": weeks,
            "total": sum(outreach) + sum(engagement), "source": source}


def hot_leads(session: Session, n: int = 5) -> list[dict]:
    rows = session.execute(text(
        "select c.id, c.first_name, c.last_name, c.email, co.name as company, s.score, s.tier "
        "from scores s join contacts c on c.id = s.entity_id left join companies co on co.id = c.company_id "
        "where s.entity_type = 'lead' and c.lifecycle_stage not in ('customer', 'other') "
        "order by s.score desc, c.created_at desc limit :n"), {"n": n})
    return [dict(r._mapping) for r in rows]


def open_tasks(session: Session, user_id, n: int = 6) -> list[dict]:
    """Open tasks, the user's own first, then the team's; due soon (or just overdue) before long-forgotten ones."""
    rows = session.execute(text(
        "select t.id, t.title, t.due_at, t.contact_id, t.company_id, t.assignee_id = :u as mine, u.name as assignee, "
        "coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), c.email, co.name) as about "
        "from tasks t left join contacts c on c.id = t.contact_id left join companies co on co.id = t.company_id "
        "left join users u on u.id = t.assignee_id where not t.is_done "
        "order by (t.assignee_id = :u) desc nulls last, (t.due_at >= now() - interval '14 days') desc nulls last, "
        "t.due_at nulls last, t.created_at limit :n"),
        {"u": user_id, "n": n})
    return [dict(r._mapping) for r in rows]

"""Campaign performance: every campaign from the system of record, with the data platform's published
figures (analytics.campaign_performance: engagement, conversions, won amount, return) where they exist."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from dashboards.data.common import table_exists

BASE = """
select c.id, c.name, c.channel, c.status, c.budget, c.currency, c.starts_on, c.ends_on,
       (select count(*) from campaign_members m where m.campaign_id = c.id) as members{extra}
from campaigns c {join}
order by c.starts_on desc nulls last, c.created_at desc
"""
MART_COLUMNS = """,
       p.campaign_id is not null as published, p.emails_sent, p.emails_opened, p.emails_clicked,
       p.emails_replied, p.form_submits, p.open_rate, p.click_rate, p.converted_members, p.conversion_rate,
       p.won_amount, p.return_on_budget"""


def performance(session: Session) -> tuple[list[dict], bool]:
    """(rows, published): `published` is False until the pipeline has published the mart at least once."""
    published = table_exists(session, "analytics.campaign_performance")
    sql = BASE.format(extra=MART_COLUMNS if published else ", false as published",
                      join="left join analytics.campaign_performance p on p.campaign_id = c.id" if published else "")
    rows = [dict(r._mapping) for r in session.execute(text(sql))]
    return rows, published and any(r["published"] for r in rows)

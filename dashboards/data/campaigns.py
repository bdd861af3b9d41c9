"""Campaign performance: reach and engagement from campaign activities, revenue from members' deals."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# A member's deal counts for a campaign when it was created after the contact joined the campaign:
# a simple, explainable "influenced" attribution (the data platform's marts may refine it).
SQL = """
with members as (
  select campaign_id, count(*) as members from campaign_members group by 1
), engagement as (
  select campaign_id,
         count(*) filter (where type = 'email_sent') as sent,
         count(*) filter (where type = 'email_opened') as opened,
         count(*) filter (where type = 'email_clicked') as clicked,
         count(*) filter (where type in ('email_replied', 'form_submit', 'meeting')) as responses
  from activities where campaign_id is not null group by 1
), influenced as (
  select m.campaign_id,
         count(distinct d.id) as deals,
         coalesce(sum(d.amount) filter (where d.status = 'open'), 0) as pipeline,
         coalesce(sum(d.amount) filter (where d.status = 'won'), 0) as won
  from campaign_members m join deals d on d.contact_id = m.contact_id and d.created_at >= m.added_at
  group by 1
)
select c.id, c.name, c.channel, c.status, c.budget, c.currency, c.starts_on, c.ends_on,
       coalesce(m.members, 0) as members, coalesce(e.sent, 0) as sent, coalesce(e.opened, 0) as opened,
       coalesce(e.clicked, 0) as clicked, coalesce(e.responses, 0) as responses,
       coalesce(i.deals, 0) as deals, coalesce(i.pipeline, 0) as pipeline, coalesce(i.won, 0) as won
from campaigns c left join members m on m.campaign_id = c.id left join engagement e on e.campaign_id = c.id
left join influenced i on i.campaign_id = c.id
order by c.starts_on desc nulls last, c.created_at desc
"""


def performance(session: Session) -> list[dict]:
    out = []
    for r in session.execute(text(SQL)):
        row = dict(r._mapping)
        row["open_rate"] = row["opened"] / row["sent"] if row["sent"] else None
        row["click_rate"] = row["clicked"] / row["sent"] if row["sent"] else None
        row["roi"] = float(row["won"]) / float(row["budget"]) if row["budget"] else None
        out.append(row)
    return out

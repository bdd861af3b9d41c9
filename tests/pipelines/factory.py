"""Hand-made CRM rows with known timestamps, written through tenant_session (RLS applies).

The world (UTC), history 2025-01-01 .. 2025-12-31, horizon 90 days:
- lead L1 (created 01-10): reply 03-31 23:30, sent 03-20, /pricing visit 03-25, reply 04-01 00:30;
  won deal closed 06-29 12:00 -> converted_90d at 03-31 = 1 (window (03-31, 06-29]), at 02-28 = 0.
- lead L3 (created 01-05): won deal closed 06-30 00:00 -> at 03-31 = 0 (just outside), at 04-30 = 1.
- lead L2 (created 04-15): absent at 03-31; open deal (stage Proposal since 06-10).
- notes on L1: positive 03-15, negative 04-10 (after 03-31: never in the 03-31 features).
- contractual tenant: account C1 (customer since 2024-06-01, churned 05-15 10:00) -> churned_90d at
  03-31 = 1, at 01-31 = 0, gone at 05-31; account C2 customer since 02-10.
- activity tenant: account D1 orders 01-15, 03-10, 07-20 (120 EUR each) -> at 03-31: in population,
  churned_90d = 1; at 04-30: churned_90d = 0; at 06-30: a lapsed account (no order in the 90 days before),
  churned_90d = 0 (it orders again 07-20).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import text

from crm.db.engine import tenant_session

DATA_END = date(2025, 12, 31)
DBT_VARS = {"data_end_date": DATA_END.isoformat(), "as_of_start_date": "2025-01-31"}


def at(s: str) -> datetime:
    """'2025-03-31 23:30' -> aware UTC datetime."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def insert(session, table: str, **values) -> str:
    cols = list(values)
    params = []
    for c in cols:
        if c == "properties":
            values[c] = json.dumps(values[c])
            params.append("cast(:properties as jsonb)")
        else:
            params.append(f":{c}")
    sql = (f"insert into {table} (tenant_id, {', '.join(cols)}) values (app_tenant_id(), {', '.join(params)}) "
           "returning id")
    return str(session.execute(text(sql), values).scalar_one())


def _pipeline(s) -> dict[str, str]:
    pipeline = insert(s, "pipelines", name="Sales", is_default=True)
    stages = {}
    for pos, (name, p, won, lost) in enumerate([("Qualified", 0.2, False, False), ("Proposal", 0.5, False, False),
                                                 ("Won", 1.0, True, False), ("Lost", 0.0, False, True)]):
        stages[name] = insert(s, "pipeline_stages", pipeline_id=pipeline, name=name, position=pos,
                              win_probability=p, is_won=won, is_lost=lost)
    stages["pipeline"] = pipeline
    return stages


def _won_deal(s, stages, contact_id, company_id, created, closed, amount=1000) -> str:
    deal = insert(s, "deals", name="Retainer", contact_id=contact_id, company_id=company_id,
                  pipeline_id=stages["pipeline"], stage_id=stages["Won"], amount=amount, status="won",
                  closed_at=at(closed), created_at=at(created))
    insert(s, "deal_stage_history", deal_id=deal, to_stage_id=stages["Qualified"], changed_at=at(created))
    insert(s, "deal_stage_history", deal_id=deal, from_stage_id=stages["Qualified"], to_stage_id=stages["Won"],
           changed_at=at(closed))
    return deal


def seed_contractual_tenant(tenant_id: str) -> dict[str, str]:
    """Leads L1-L3, accounts C1/C2, a campaign, notes; returns the ids by name."""
    ids: dict[str, str] = {}
    with tenant_session(tenant_id) as s:
        s.execute(text("update tenants set churn_mode = 'contractual' where id = app_tenant_id()"))
        stages = _pipeline(s)
        ids["C1"] = insert(s, "companies", name="Churny Ltd", size="11-50", industry="Retail", lifecycle="churned",
                           customer_since=date(2024, 6, 1), churned_at=at("2025-05-15 10:00"),
                           created_at=at("2024-05-01 00:00"))
        ids["C2"] = insert(s, "companies", name="Newco", size="51-200", industry="SaaS", lifecycle="customer",
                           customer_since=date(2025, 2, 10), created_at=at("2025-01-20 00:00"))
        ids["P1"] = insert(s, "companies", name="Prospect Inc", size="1-10", industry="Retail",
                           created_at=at("2025-01-02 00:00"))
        ids["L1"] = insert(s, "contacts", email="l1@prospect.example", first_name="Lea", title="VP Marketing",
                           lead_source="webinar", company_id=ids["P1"], created_at=at("2025-01-10 09:00"))
        ids["L2"] = insert(s, "contacts", email="l2@prospect.example", first_name="Lou", title="Analyst",
                           lead_source="organic", created_at=at("2025-04-15 09:00"))
        ids["L3"] = insert(s, "contacts", email="l3@prospect.example", first_name="Lin", title="Founder",
                           lead_source="referral", created_at=at("2025-01-05 09:00"))
        ids["K1"] = insert(s, "contacts", email="k1@churny.example", first_name="Kim", company_id=ids["C1"],
                           created_at=at("2024-05-02 09:00"))
        for kind, when, props in [("email_replied", "2025-03-31 23:30", {}), ("email_sent", "2025-03-20 10:00", {}),
                                  ("web_visit", "2025-03-25 10:00", {"page": "/pricing"}),
                                  ("email_replied", "2025-04-01 00:30", {})]:
            insert(s, "activities", type=kind, occurred_at=at(when), contact_id=ids["L1"], properties=props,
                   body="Thanks, sounds good" if kind == "email_replied" else None)
        insert(s, "activities", type="web_visit", occurred_at=at("2025-12-31 12:00"), contact_id=ids["L2"],
               properties={"page": "/blog"})
        insert(s, "activities", type="support_ticket", occurred_at=at("2025-03-05 12:00"), company_id=ids["C1"],
               contact_id=ids["K1"], body="The report is broken again, this is frustrating")
        ids["note_pos"] = insert(s, "notes", body="Great call, they love the proposal and want to move ahead",
                                 contact_id=ids["L1"], occurred_at=at("2025-03-15 15:00"))
        ids["note_neg"] = insert(s, "notes", body="Terrible meeting, they are angry and unhappy with the delays",
                                 contact_id=ids["L1"], occurred_at=at("2025-04-10 15:00"))
        ids["deal_L1"] = _won_deal(s, stages, ids["L1"], ids["P1"], "2025-03-01 09:00", "2025-06-29 12:00", 5000)
        ids["deal_L3"] = _won_deal(s, stages, ids["L3"], None, "2025-02-01 09:00", "2025-06-30 00:00", 2000)
        ids["deal_L2"] = insert(s, "deals", name="Audit", contact_id=ids["L2"], pipeline_id=stages["pipeline"],
                                stage_id=stages["Proposal"], amount=3000, status="open",
                                created_at=at("2025-05-01 09:00"), expected_close_date=date(2026, 1, 15))
        insert(s, "deal_stage_history", deal_id=ids["deal_L2"], to_stage_id=stages["Qualified"],
               changed_at=at("2025-05-01 09:00"))
        insert(s, "deal_stage_history", deal_id=ids["deal_L2"], from_stage_id=stages["Qualified"],
               to_stage_id=stages["Proposal"], changed_at=at("2025-06-10 09:00"))
        ids["campaign"] = insert(s, "campaigns", name="Spring webinar", channel="webinar", status="completed",
                                 budget=1000, starts_on=date(2025, 3, 1), ends_on=date(2025, 3, 31))
        insert(s, "campaign_members", campaign_id=ids["campaign"], contact_id=ids["L1"],
               added_at=at("2025-03-02 09:00"))
        ids.update({f"stage_{k}": v for k, v in stages.items()})
    return ids


def seed_activity_tenant(tenant_id: str) -> dict[str, str]:
    """An activity-churn tenant with account D1 and its three orders."""
    ids: dict[str, str] = {}
    with tenant_session(tenant_id) as s:
        s.execute(text("update tenants set churn_mode = 'activity' where id = app_tenant_id()"))
        ids["D1"] = insert(s, "companies", name="Repeat Buyer", size="11-50", industry="Food", lifecycle="customer",
                           customer_since=date(2024, 1, 1), created_at=at("2023-12-01 00:00"))
        ids["B1"] = insert(s, "contacts", email="b1@repeat.example", first_name="Bo", company_id=ids["D1"],
                           created_at=at("2023-12-02 09:00"))
        for when in ("2025-01-15 10:00", "2025-03-10 10:00", "2025-07-20 10:00"):
            insert(s, "activities", type="order", occurred_at=at(when), company_id=ids["D1"],
                   properties={"amount": 120}, amount=120, currency="EUR")
    return ids

"""The demo's workflows: each demo agency gets two enabled workflows from the templates, created through the
workflow service (audited like any write, as the system), so the worker started by `crm serve` / `make demo`
has something to run and the workflow pages have runs to show:

- "New tier-A lead → task for its owner within 1 h + drafted follow-up", started by lead scores entering tier A
  (the pipeline's and the live refresher's scores);
- "Deal idle 14 days → reminder", started by the inactivity scan over open deals.

Idempotent: a template the agency already has a workflow from is not added again, so loading the demo over an
existing CRM_HOME adds them to agencies loaded before and duplicates nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from crm.db.engine import tenant_session
from crm.db.models import Workflow
from crm.services.actor import Actor, set_actor
from crm.workflows import service

DEMO_TEMPLATES = ("tier_a_lead_follow_up", "deal_idle_reminder")


def seed_workflows(tenant_id: str) -> list[str]:
    """Create the demo's enabled workflows the agency does not have yet; the names of those created."""
    made = []
    with tenant_session(tenant_id) as session:
        set_actor(session, Actor("system", None, "demo"))
        present = set(session.scalars(select(Workflow.template).where(Workflow.template.is_not(None))))
        for template in DEMO_TEMPLATES:
            if template not in present:
                made.append(service.create(session, template=template, enabled=True).name)
    return made

"""One function per step type: `(RunContext, Step) -> output dict`; routing steps put the chosen step in "next"."""

from __future__ import annotations

from collections.abc import Callable

from crm.workflows.definition import Step
from serving.workflows.context import RunContext
from serving.workflows.steps.decision import ai_decision
from serving.workflows.steps.drafts import draft_email
from serving.workflows.steps.flow import branch, wait
from serving.workflows.steps.records import add_note, enroll_in_campaign, update_field
from serving.workflows.steps.tasks import create_task
from serving.workflows.steps.webhooks import send_webhook

STEPS: dict[str, Callable[[RunContext, Step], dict]] = {
    "create_task": create_task, "update_field": update_field, "add_note": add_note, "draft_email": draft_email,
    "send_webhook": send_webhook, "wait": wait, "branch": branch, "enroll_in_campaign": enroll_in_campaign,
    "ai_decision": ai_decision,
}
# steps with a set-based form: deferred to the end of a batch's fast round (`ledger.once(many=...)`)
SET_BASED = frozenset({"create_task", "add_note", "update_field"})

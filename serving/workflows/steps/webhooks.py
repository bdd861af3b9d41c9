"""send_webhook: one signed delivery to the named subscription, queued in the step's transaction.

The idempotency key `run:<run id>:<step id>` is unique per subscription (`crm.webhooks.enqueue`), a second line of
defence behind the step's own row: even a step re-run by hand queues no second delivery.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.services.errors import NotFound
from crm.webhooks import enqueue
from crm.workflows.definition import SendWebhookParams, Step
from serving.workflows.context import RunContext, StepFailed
from serving.workflows.ledger import once

EVENT_TYPE = "workflow.step"


def _send(session: Session, ctx: RunContext, step: Step) -> dict:
    params: SendWebhookParams = step.params
    payload = {"workflow_id": ctx.workflow_id, "workflow": ctx.workflow_name, "run_id": ctx.run_id,
               "step_id": step.id, "entity_type": ctx.entity_type, "entity_id": ctx.entity_id,
               "record": ctx.record(session), "trigger": ctx.trigger}
    try:
        deliveries = enqueue(session, event_type=EVENT_TYPE, payload=payload, subscription_id=params.subscription_id,
                             idempotency_key=f"run:{ctx.run_id}:{step.id}")
    except NotFound:
        raise StepFailed(f"webhook subscription {params.subscription_id} does not exist in this agency") from None
    return {"subscription_id": str(params.subscription_id), "delivery_ids": [str(d) for d in deliveries],
            "event_type": EVENT_TYPE}


def send_webhook(ctx: RunContext, step: Step) -> dict:
    return once(ctx, step.id, step.params.model_dump(mode="json"), lambda session, _: _send(session, ctx, step))

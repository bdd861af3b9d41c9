"""`/webhooks`: an agency's outbound webhook subscriptions, their delivery log and a test ping.

Admins only (other roles 403): a URL can itself be a credential (chat tools' incoming-webhook URLs are), and
deliveries carry the agency's records. Everything runs in the caller's tenant session, so another agency's
subscription answers 404 like a missing one. The signing secret is in the 201 answers of create and
rotate-secret only. A URL the SSRF rule refuses is a 422 saying why (crm.webhooks.targets).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import AdminDep, SessionDep
from api.openapi import problem_response
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page
from api.schemas.webhooks import (
    DeliveryList,
    DeliveryRead,
    PingQueued,
    WebhookCreate,
    WebhookIssued,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)
from crm.webhooks import enqueue, subscriptions

# every operation is admin-only (403 for reads too); the log's cursor can be malformed (400)
router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses={403: problem_response(403)})
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _issued(issued: subscriptions.Issued) -> WebhookIssued:
    return WebhookIssued.model_validate({**WebhookRead.model_validate(issued.subscription).model_dump(),
                                         "secret": issued.secret})


@router.post("", status_code=201, response_model=WebhookIssued,
             summary="Subscribe an endpoint to events; the signing secret is in this answer only")
def create_webhook(body: WebhookCreate, principal: AdminDep, session: SessionDep) -> WebhookIssued:
    return _issued(subscriptions.create(session, body.url, body.event_types, body.description, body.enabled))


@router.get("", response_model=WebhookList, summary="List the agency's webhook subscriptions (no secrets)")
def list_webhooks(principal: AdminDep, session: SessionDep, limit: Limit = DEFAULT_LIMIT,
                  cursor: Cursor = None) -> dict:
    rows = subscriptions.list_page(session, limit + 1, decode_cursor(cursor) if cursor else None)
    data, next_cursor = page(rows, limit)
    return {"data": [WebhookRead.model_validate(s) for s in data], "next_cursor": next_cursor}


@router.get("/{webhook_id}", response_model=WebhookRead, summary="One subscription, with why it is off if it is")
def get_webhook(webhook_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> WebhookRead:
    return WebhookRead.model_validate(subscriptions.get(session, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookRead,
              summary="Change a subscription; enabled=true switches it on again and resets its failure count")
def update_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, principal: AdminDep,
                   session: SessionDep) -> WebhookRead:
    return WebhookRead.model_validate(subscriptions.update(session, webhook_id, **body.model_dump(exclude_unset=True)))


@router.delete("/{webhook_id}", status_code=204, response_class=Response,
               summary="Delete a subscription with its delivery log; unsent deliveries are dropped")
def delete_webhook(webhook_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> Response:
    subscriptions.delete(session, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", status_code=201, response_model=WebhookIssued,
             summary="Replace the signing secret; the new one signs from the next attempt on (shown once)")
def rotate_webhook_secret(webhook_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> WebhookIssued:
    return _issued(subscriptions.rotate_secret(session, webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses={400: problem_response(400)},
            summary="The subscription's delivery log, newest first: status, attempts, last answer")
def list_deliveries(webhook_id: uuid.UUID, principal: AdminDep, session: SessionDep,
                    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> dict:
    rows = subscriptions.delivery_log(session, webhook_id, limit + 1, decode_cursor(cursor) if cursor else None)
    data, next_cursor = page(rows, limit)
    return {"data": [DeliveryRead.model_validate(d) for d in data], "next_cursor": next_cursor}


@router.post("/{webhook_id}/test", status_code=202, response_model=PingQueued,
             summary="Queue a 'ping' delivery to the subscription; see it in its delivery log")
def ping_webhook(webhook_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> PingQueued:
    sub = subscriptions.get(session, webhook_id)
    ping_id = uuid.uuid4()
    ids = enqueue(session, event_type="ping", subscription_id=sub.id, idempotency_key=f"ping:{ping_id}",
                  payload={"webhook_id": str(sub.id), "ping_id": str(ping_id),
                           "message": "a test delivery from Intelligence CRM"})
    return PingQueued(delivery_id=ids[0])

"""Outbound webhooks: an agency's subscriptions, the outbox of deliveries and the worker that sends them.

- `signing`: the `CRM-Signature` header (HMAC-SHA256 over timestamp and body) and `verify` for receivers;
- `targets`: which URLs may be called at all (no SSRF: private, loopback, link-local ... refused unless allowed);
- `subscriptions`: the service behind `/api/v1/webhooks` (create, list, update, rotate the secret, delete);
- `outbox`: `enqueue`, the one way a delivery is queued, in the caller's transaction;
- `delivery`: `deliver_due`, one pass of the worker across tenants (claim, commit, POST, record the outcome).
"""

from crm.webhooks.delivery import deliver_due
from crm.webhooks.outbox import enqueue

__all__ = ["deliver_due", "enqueue"]

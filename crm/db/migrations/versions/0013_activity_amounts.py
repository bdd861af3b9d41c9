"""Spend as first-class data: `activities.amount numeric(14,2)` and `activities.currency char(3)`.

Revision ID: 0013

Order amounts used to travel only in `properties` (`{"amount": 129.5, "currency": "EUR"}`), where nothing read
them. Both columns are nullable (a call has no amount; a tenant has no default currency, so an amount sent
without one keeps currency null). An amount is never negative (refunds are not modelled: a refund is not an
order) and fits numeric(14,2), as deal amounts do; a currency is three upper-case letters (ISO 4217 style).

The upgrade backfills both from `properties->>'amount'` / `'currency'` wherever they parse (a plain decimal
number within range, rounded to cents; three letters, upper-cased); `properties` is left as it was. The
backfill is one UPDATE, so it fires the activities triggers: `set_updated_at` moves `updated_at` (the next
incremental extract carries the backfilled rows to the warehouse) and the statement-level live refresh triggers
of 0010 queue each touched contact and company (their spend features did move) and each activity for the index
lane, whose text-hash check makes the re-index a no-op.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MAX_AMOUNT = "999999999999.99"
# properties->>'amount' as numeric where it is a plain non-negative decimal that fits numeric(14,2); else null
_AMOUNT = "trim(properties->>'amount')"
PARSED_AMOUNT = (f"case when {_AMOUNT} ~ '^[0-9]{{1,12}}(\\.[0-9]+)?$' "
                 f"and round({_AMOUNT}::numeric, 2) <= {MAX_AMOUNT} then round({_AMOUNT}::numeric, 2) end")
PARSED_CURRENCY = ("case when upper(trim(properties->>'currency')) ~ '^[A-Z]{3}$' "
                   "then upper(trim(properties->>'currency')) end")


def upgrade() -> None:
    op.execute("alter table activities add column amount numeric(14,2), add column currency char(3)")
    op.execute("alter table activities add constraint activities_amount_check "
               f"check (amount >= 0 and amount <= {MAX_AMOUNT})")
    op.execute("alter table activities add constraint activities_currency_check check (currency ~ '^[A-Z]{3}$')")
    op.execute(f"""
update activities
   set amount = {PARSED_AMOUNT}, currency = {PARSED_CURRENCY}
 where ({PARSED_AMOUNT}) is not null or ({PARSED_CURRENCY}) is not null""")


def downgrade() -> None:
    op.execute("alter table activities drop column if exists currency, drop column if exists amount")

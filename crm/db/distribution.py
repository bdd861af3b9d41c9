"""How the schema spreads over a Citus cluster: the one list docs/scale-out.md and the schema test share.

Every table with a `tenant_id` column in a schema the product owns is *distributed* by `tenant_id`, all in
one colocation group, unless it is named here as a *reference* table (a full copy on every node).
`tests/crm/test_citus_ready.py` checks the live schema against these lists, so a new table is either
ready to be distributed or listed here with its reason.
"""

from __future__ import annotations

DISTRIBUTION_COLUMN = "tenant_id"

# Schemas created by the migrations (and the publish step, in `analytics`).
OWNED_SCHEMAS = ("public", "analytics")

# Shared or looked up before the tenant is known, small, rarely written: copied to every node.
REFERENCE_TABLES: dict[str, str] = {
    "public.tenants": "every tenant-owned row references it; a tenant's slug is unique across the product",
    "public.users": "an email is unique across the product and `auth_user` finds it before the tenant is known",
    "public.api_keys": "`auth_api_key` finds a key by its hash before the tenant is known; the hash is unique "
                       "across the product",
    "public.invitations": "`find_invitation` finds an invitation by its token hash before the tenant is known; "
                          "the hash is unique across the product",
}

# Without a tenant_id and not shared data: stay on the coordinator (or are distributed by their own key).
LOCAL_TABLES: dict[str, str] = {
    "public.alembic_version": "the schema version, read and written by migrations on the coordinator",
    "public.login_attempts": "throttles sign-ins per (email, client address) before any tenant is known; "
                             "reached only through `login_reserve` / `login_succeeded`",
    "public.rate_buckets": "rate-limit token buckets by API key or tenant id (scope, id), written on every lease "
                           "before a tenant transaction begins; reached only through `api_lease` / `rate_take`",
}

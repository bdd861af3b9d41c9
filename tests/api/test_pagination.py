"""Keyset pagination: every row exactly once, across pages, ties and concurrent inserts."""

from __future__ import annotations

import uuid

from crm.db.engine import tenant_session
from crm.db.models import Contact
from tests.api.conftest import assert_problem


def _seed_contacts(tenant_id: str, n: int, prefix: str) -> set[str]:
    """Rows inserted in one transaction share created_at (now() is the transaction's start): the id breaks ties."""
    with tenant_session(tenant_id) as s:
        rows = [Contact(tenant_id=uuid.UUID(tenant_id), email=f"{prefix}{i}@example.com") for i in range(n)]
        s.add_all(rows)
        s.flush()
        return {str(r.id) for r in rows}


def test_every_row_once_over_many_pages(api, tenant):
    ids = _seed_contacts(tenant["tenant_id"], 130, "same-ts")
    ids |= {api.contact(f"api{i}@example.com")["id"] for i in range(5)}
    for limit in (1, 7, 50, 200):
        seen = [r["id"] for r in api.list_all("contacts", limit=limit)]
        assert len(seen) == len(set(seen)) == len(ids)
        assert set(seen) == ids


def test_default_page_is_50_with_cursor(api, tenant):
    _seed_contacts(tenant["tenant_id"], 60, "default")
    body = api.get("/contacts").json()
    assert len(body["data"]) == 50 and body["next_cursor"]
    last = api.get("/contacts", params={"cursor": body["next_cursor"]}).json()
    assert len(last["data"]) == 10 and last["next_cursor"] is None


def test_rows_inserted_between_pages_are_not_lost_and_none_repeats(api, tenant):
    ids = _seed_contacts(tenant["tenant_id"], 75, "before")
    first = api.get("/contacts", params={"limit": 50}).json()
    seen = [r["id"] for r in first["data"]]
    # new rows arrive while the client pages: they sort after everything seen so far
    ids |= _seed_contacts(tenant["tenant_id"], 30, "during")
    cursor = first["next_cursor"]
    while cursor:
        body = api.get("/contacts", params={"limit": 50, "cursor": cursor}).json()
        seen += [r["id"] for r in body["data"]]
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen)) and set(seen) == ids


def test_deleted_row_between_pages_does_not_shift_others(api, tenant):
    _seed_contacts(tenant["tenant_id"], 20, "del")
    first = api.get("/contacts", params={"limit": 10}).json()
    api.delete(f"/contacts/{first['data'][-1]['id']}")  # the cursor row itself disappears
    rest = api.list_all("contacts", limit=10, cursor=first["next_cursor"])
    assert len(rest) == 10 and not {r["id"] for r in rest} & {r["id"] for r in first["data"]}


def test_limit_bounds(api):
    assert_problem(api.get("/contacts", params={"limit": 201}), 422)
    assert_problem(api.get("/contacts", params={"limit": 0}), 422)
    assert_problem(api.get("/contacts", params={"limit": "many"}), 422)
    assert api.get("/contacts", params={"limit": 200}).status_code == 200


def test_malformed_cursors_are_400(api):
    for cursor in ("zzz", "!!!", "bm90IGpzb24", "WzEsMl0", "WyJub3QtYS1kYXRlIiwgIngiXQ", "e30"):
        assert_problem(api.get("/contacts", params={"cursor": cursor}), 400)
    assert_problem(api.get("/contacts", params={"cursor": "x" * 201}), 422)

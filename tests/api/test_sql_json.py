"""Pages rendered by PostgreSQL (api.sql_json) are byte for byte what pydantic renders for the same records:
each record of a page appears verbatim as the body of its read by id (pydantic's rendering), on hostile text,
NULLs, dates, decimals, booleans; timestamps agree in several session time zones."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest
from pydantic import BaseModel, TypeAdapter

from api import fast_lane, sql_json
from api.routes import activities, campaigns, companies, contacts, deals, notes, pipelines, tasks
from crm.db.engine import admin_url, psycopg_conninfo

HOSTILE = 'quote " backslash \\ slash / tab\tnewline\ncr\r bell\x07 unit\x1f del\x7f é ✓ \u2028 😀 {"x":[1]}'


def _records_verbatim(api, resource: str, created: list[dict], **params) -> bytes:
    body = api.get(f"/{resource}", params={"limit": 200, **params}).content
    for record in created:
        one = api.get(f"/{resource}/{record['id']}")
        assert one.status_code == 200
        assert one.content in body, (one.content, body)
    return body


def test_renderable_schemas_are_the_flat_ones():
    flat = [contacts, companies, notes, tasks, campaigns]
    assert all(sql_json.record_fields(m.resource.read, m.resource.model.__table__) for m in flat)
    # a JSON object (activity properties) and nested lists (deal stage history, pipeline stages) are not
    assert sql_json.record_fields(activities.resource.read, activities.resource.model.__table__) is None
    assert deals.resource.nested and pipelines.resource.nested

    class WithFloat(BaseModel):
        id: uuid.UUID
        amount: float

    assert sql_json.record_fields(WithFloat, campaigns.resource.model.__table__) is None


def test_a_page_holds_each_record_exactly_as_read_by_id(api):
    made = [api.contact(f"hostile{i}@example.com", first_name=HOSTILE, last_name="", title=None,
                        phone=("+1 555" if i else None), lead_source="webinar")
            for i in range(3)]
    company = api.company(name=HOSTILE, domain=None, customer_since="2024-02-29")
    body = _records_verbatim(api, "contacts", made)
    assert body.startswith(b'{"data":[{') and body.endswith(b'],"next_cursor":null}')
    _records_verbatim(api, "companies", [company])
    _records_verbatim(api, "notes", [api.create("notes", {"body": HOSTILE, "contact_id": made[0]["id"]})])
    _records_verbatim(api, "tasks", [api.create("tasks", {"title": "Call", "due_at": "2026-03-01T09:30:00Z"}),
                                     api.create("tasks", {"title": "Mail", "is_done": True})])
    _records_verbatim(api, "campaigns", [api.create("campaigns", {"name": "Spring", "channel": "email",
                                                                  "budget": "1200.5", "starts_on": "2026-03-01"})])
    # filters and search take the same rendering; an empty page is an empty list
    assert api.get("/contacts", params={"q": "no such person"}).content == b'{"data":[],"next_cursor":null}'
    _records_verbatim(api, "contacts", made[:1], q="hostile0")


def test_fast_lane_and_router_give_the_same_pages(api):
    for i in range(5):
        api.contact(f"paged{i}@example.com")
    query = b"limit=2&lifecycle_stage=lead"
    scope = {"type": "http", "method": "GET", "query_string": query, "path": "/api/v1/contacts",
             "headers": [(b"authorization", b"Bearer x")]}
    assert fast_lane._match(scope) is not None
    for refused in (b"limit=0", b"limit=201", b"limit=abc", b"limit=2&limit=3", b"cursor=", b"via=router",
                    b"updated_since=2026-01-01T00:00:00Z"):
        assert fast_lane._match(scope | {"query_string": refused}) is None   # the router decides these
    fast = api.get("/contacts", params={"limit": 2, "lifecycle_stage": "lead"})
    routed = api.get("/contacts", params={"limit": 2, "lifecycle_stage": "lead", "via": "router"})
    assert fast.status_code == routed.status_code == 200 and fast.content == routed.content
    nxt = fast.json()["next_cursor"]
    assert api.get("/contacts", params={"limit": 2, "cursor": nxt}).content == \
        api.get("/contacts", params={"limit": 2, "cursor": nxt, "via": "router"}).content
    assert api.get("/contacts", params={"limit": 0}).status_code == 422
    assert api.get("/contacts", params={"owner_id": "not-a-uuid"}).status_code == 422   # fast lane, same problem


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_timestamps_render_as_pydantic_does_in_any_session_time_zone(zone):
    expr = sql_json._TIMESTAMP.format(c="t")
    values = ["1900-01-01 00:00:00+00", "2026-03-01 09:30:00+00", "2026-03-01 09:30:00.120000+00",
              "2026-07-01 23:59:59.999999+00", "2099-12-31 23:59:59.000001+00", "2026-10-25 01:30:00+00"]
    dump = TypeAdapter(dt.datetime).dump_json
    with psycopg.connect(psycopg_conninfo(admin_url()), autocommit=True) as conn:
        conn.execute(f"set timezone = '{zone}'")
        for value in values:
            parsed, rendered = conn.execute(f"select t, {expr} from (select %s::timestamptz as t) x",
                                            (value,)).fetchone()
            assert dump(parsed).decode() == f'"{rendered}"', (zone, value)
        assert conn.execute("select %s::numeric(14,2)::text", (Decimal("1200.5"),)).fetchone()[0] == \
            TypeAdapter(Decimal).dump_json(Decimal("1200.50")).decode().strip('"')

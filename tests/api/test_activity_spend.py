"""Activities carry amount and currency through the API: POST /activities, PATCH, GET, and POST /events."""

from __future__ import annotations

AT = "2026-03-01T10:00:00Z"


def test_an_order_with_amount_is_created_read_back_and_changed(api, other_api):
    company = api.company()
    created = api.create("activities", {"type": "order", "occurred_at": AT, "company_id": company["id"],
                                        "amount": 129.999, "currency": "eur"})
    assert (created["amount"], created["currency"]) == ("130.00", "EUR")
    read = api.get(f"/activities/{created['id']}").json()
    assert (read["amount"], read["currency"]) == ("130.00", "EUR")
    changed = api.patch(f"/activities/{created['id']}", {"amount": "99.5"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["amount"], changed.json()["currency"]) == ("99.50", "EUR")
    # another tenant's id answers 404, as a missing one does, for reads and writes alike
    assert other_api.get(f"/activities/{created['id']}").status_code == 404
    assert other_api.patch(f"/activities/{created['id']}", {"amount": "1"}).status_code == 404
    assert api.get(f"/activities/{created['id']}").json()["amount"] == "99.50"


def test_amount_from_properties_and_refused_values(api):
    company = api.company()
    lifted = api.create("activities", {"type": "order", "occurred_at": AT, "company_id": company["id"],
                                       "properties": {"amount": "45.10", "currency": "GBP"}})
    assert (lifted["amount"], lifted["currency"]) == ("45.10", "GBP")
    assert lifted["properties"] == {"amount": "45.10", "currency": "GBP"}
    plain = api.create("activities", {"type": "call", "occurred_at": AT, "company_id": company["id"]})
    assert (plain["amount"], plain["currency"]) == (None, None)
    for body in ({"amount": -1}, {"amount": "ten"}, {"currency": "EURO"}):
        r = api.post("/activities", {"type": "order", "occurred_at": AT, "company_id": company["id"], **body})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert next(iter(body)) in r.text


def test_events_store_amounts_and_reject_a_bad_one_alone(api, other_api):
    company = api.company()
    events = [{"type": "order", "occurred_at": AT, "external_id": "e1", "company_id": company["id"],
               "amount": 250, "currency": "usd"},
              {"type": "order", "occurred_at": AT, "external_id": "e2", "company_id": company["id"],
               "properties": {"amount": 12.5}},
              {"type": "order", "occurred_at": AT, "external_id": "e3", "company_id": company["id"], "amount": -2}]
    r = api.post("/events", {"events": events})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [o["status"] for o in results] == ["accepted", "accepted", "rejected"]
    assert "amount" in results[2]["reason"]
    first = api.get(f"/activities/{results[0]['activity_id']}").json()
    second = api.get(f"/activities/{results[1]['activity_id']}").json()
    assert (first["amount"], first["currency"]) == ("250.00", "USD")
    assert (second["amount"], second["currency"]) == ("12.50", None)
    assert other_api.get(f"/activities/{results[0]['activity_id']}").status_code == 404
    assert api.post("/events", {"events": [{**events[0], "amount": "lots"}]}).status_code == 422

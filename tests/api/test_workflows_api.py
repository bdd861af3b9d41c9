"""/api/v1/workflows over real HTTP and PostgreSQL: CRUD, templates, a 422 naming the bad step, manual and
webhook runs that a retried request starts once, run history and run detail, and another agency's 404s."""

from __future__ import annotations

import uuid

from tests.api.conftest import assert_problem

IDLE = {"trigger": {"type": "inactivity", "entity": "deal", "days": 14},
        "conditions": [{"field": "status", "op": "eq", "value": "open"}],
        "steps": [{"id": "remind", "type": "create_task", "params": {"title": "Follow up", "due_in_minutes": 60}},
                  {"id": "note", "type": "add_note", "params": {"body": "Reminder sent"}}]}
HOOKED = {"trigger": {"type": "webhook"},
          "steps": [{"id": "note", "type": "add_note", "params": {"body": "Called from outside"}}]}


def _workflow(api, definition=IDLE, **kw) -> dict:
    r = api.post("/workflows", {"name": "Idle deals", "definition": definition, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def test_templates_and_creating_from_one(api):
    listed = api.get("/workflows/templates").json()["data"]
    names = {t["name"] for t in listed}
    assert {"tier_a_lead_follow_up", "churn_risk_jump", "deal_idle_reminder",
            "negative_sentiment_complaint"} <= names
    churn = next(t for t in listed if t["name"] == "churn_risk_jump")
    assert {"name": "subscription_id", "required": True}.items() <= churn["placeholders"][-1].items()

    made = api.post("/workflows", {"template": "deal_idle_reminder", "params": {"days": 7}})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "Deal idle 14 days → reminder" and body["template"] == "deal_idle_reminder"
    assert body["enabled"] is False and body["runs"] == 0 and body["last_run"] is None
    assert body["definition"]["trigger"] == {"type": "inactivity", "entity": "deal", "days": 7}
    assert "7 days" in body["definition"]["steps"][0]["params"]["title"]

    missing = assert_problem(api.post("/workflows", {"template": "churn_risk_jump"}), 422)
    assert "params.subscription_id" in missing["detail"]
    unknown = assert_problem(api.post("/workflows", {"template": "no_such_thing"}), 422)
    assert "deal_idle_reminder" in unknown["detail"]   # says which ones exist
    assert_problem(api.post("/workflows", {"template": "deal_idle_reminder", "definition": IDLE}), 422)
    assert assert_problem(api.patch("/workflows/templates", {}), 405)["status"] == 405   # not a workflow id
    assert_problem(api.get("/workflows/not-an-id"), 404)


def test_crud_and_enable_disable(api):
    created = _workflow(api, description="Nudge owners")
    wid = created["id"]
    assert created["definition"] == IDLE and created["description"] == "Nudge owners"
    assert [w["id"] for w in api.get("/workflows").json()["data"]] == [wid]

    enabled = api.patch(f"/workflows/{wid}", {"enabled": True})
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    renamed = api.patch(f"/workflows/{wid}", {"name": "Idle deals (14 d)"}).json()
    assert renamed["name"] == "Idle deals (14 d)" and renamed["enabled"] is True
    assert api.get(f"/workflows/{wid}").json()["name"] == "Idle deals (14 d)"
    assert_problem(api.patch(f"/workflows/{wid}", {"enabled": None}), 422)

    assert api.delete(f"/workflows/{wid}").status_code == 204
    assert_problem(api.get(f"/workflows/{wid}"), 404)
    assert api.get("/workflows").json()["data"] == []

    audit = api.get("/audit", params={"entity_type": "workflow", "entity_id": wid}).json()["data"]
    assert [e["action"] for e in audit] == ["delete", "update", "update", "create"]   # newest first
    assert audit[-1]["changes"]["name"] == [None, "Idle deals"] and audit[-1]["actor_type"] == "api_key"
    assert audit[-2]["changes"] == {"enabled": [False, True]}


def test_invalid_definition_is_422_naming_the_step(api):
    bad_type = {**IDLE, "steps": [IDLE["steps"][0], {"id": "notify", "type": "sms", "params": {}}]}
    detail = assert_problem(api.post("/workflows", {"name": "x", "definition": bad_type}), 422)["detail"]
    assert 'steps[1] "notify"' in detail and "sms" in detail

    bad_params = {**IDLE, "steps": [{"id": "remind", "type": "create_task", "params": {"due_in_minutes": 5}}]}
    detail = assert_problem(api.post("/workflows", {"name": "x", "definition": bad_params}), 422)["detail"]
    assert 'steps[0] "remind"' in detail and "title" in detail

    looping = {**IDLE, "steps": [{**IDLE["steps"][0], "next": "note"}, {**IDLE["steps"][1], "next": "remind"}]}
    detail = assert_problem(api.post("/workflows", {"name": "x", "definition": looping}), 422)["detail"]
    assert "cycle" in detail and '"note"' in detail

    nowhere = assert_problem(api.post("/workflows", {"template": "churn_risk_jump",
                                                     "params": {"subscription_id": str(uuid.uuid4())}}), 422)
    assert 'steps[1] "notify"' in nowhere["detail"] and "no webhook subscription" in nowhere["detail"]
    hook = api.post("/webhooks", {"url": "https://93.184.216.34/hooks/crm", "event_types": ["*"]})
    assert hook.status_code == 201, hook.text
    made = api.post("/workflows", {"template": "churn_risk_jump", "params": {"subscription_id": hook.json()["id"]}})
    assert made.status_code == 201, made.text
    assert made.json()["definition"]["steps"][1]["params"] == {"subscription_id": hook.json()["id"]}

    wid = _workflow(api)["id"]
    detail = assert_problem(api.patch(f"/workflows/{wid}", {"definition": bad_type}), 422)["detail"]
    assert '"notify"' in detail
    assert api.get(f"/workflows/{wid}").json()["definition"] == IDLE   # nothing was stored


def test_manual_run_idempotency_history_and_detail(api):
    wid = _workflow(api)["id"]
    key = {"Idempotency-Key": f"run-{uuid.uuid4()}"}
    first = api.post(f"/workflows/{wid}/runs", {"payload": {"why": "testing"}}, headers=key)
    assert first.status_code == 202, first.text
    again = api.post(f"/workflows/{wid}/runs", {"payload": {"why": "testing"}}, headers=key)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    run = first.json()
    assert again.json()["id"] == run["id"]
    assert run["trigger_key"] == f"manual:{key['Idempotency-Key']}"
    assert run["status"] == "queued" and run["trigger"] == {"type": "manual", "payload": {"why": "testing"}}
    assert first.headers["Location"] == f"/api/v1/workflow-runs/{run['id']}"

    others = [api.post(f"/workflows/{wid}/runs").json()["id"] for _ in range(2)]   # no key: a run each
    assert len(set(others) | {run["id"]}) == 3
    page = api.get(f"/workflows/{wid}/runs", params={"limit": 2}).json()
    assert [r["id"] for r in page["data"]] == others[::-1]   # newest first
    rest = api.get(f"/workflows/{wid}/runs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["id"] for r in rest["data"]] == [run["id"]] and rest["next_cursor"] is None
    listed = api.get(f"/workflows/{wid}").json()
    assert listed["runs"] == 3 and listed["last_run"]["id"] == others[-1]

    detail = api.get(f"/workflow-runs/{run['id']}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["id"] == run["id"] and detail.json()["steps"] == []

    company = api.company(name="Acme Outdoor")
    about = api.post(f"/workflows/{wid}/runs", {"entity_type": "company", "entity_id": company["id"]}).json()
    assert (about["entity_type"], about["entity_id"]) == ("company", company["id"])
    assert_problem(api.post(f"/workflows/{wid}/runs", {"entity_type": "company", "entity_id": str(uuid.uuid4())}),
                   422)
    assert_problem(api.post(f"/workflows/{wid}/runs", {"entity_type": "company"}), 422)


def test_run_detail_shows_each_step_after_the_runner(api, tenant):
    from serving.workflows.runner import execute

    wid = _workflow(api)["id"]
    company = api.company(name="Globex")
    run = api.post(f"/workflows/{wid}/runs", {"entity_type": "company", "entity_id": company["id"]}).json()
    assert execute(tenant["tenant_id"], run["id"]).status == "succeeded"   # what the worker does
    detail = api.get(f"/workflow-runs/{run['id']}").json()
    assert detail["status"] == "succeeded" and detail["finished_at"] is not None
    remind, note = detail["steps"]
    assert (remind["step_id"], remind["status"], note["step_id"], note["status"]) == \
        ("remind", "succeeded", "note", "succeeded")
    assert remind["input"]["title"] == "Follow up" and remind["output"]["task_id"]
    assert note["output"]["note_id"] and note["duration_ms"] >= 0 and note["started_at"] <= note["finished_at"]
    tasks = api.get("/tasks", params={"company_id": company["id"]}).json()["data"]
    assert [t["id"] for t in tasks] == [remind["output"]["task_id"]]


def test_inbound_webhook_starts_one_run_per_key(api):
    hooked = _workflow(api, definition=HOOKED, enabled=True)
    contact = api.contact("ada@example.com")
    body = {"entity_type": "contact", "entity_id": contact["id"], "source": "form", "score": 7}
    key = {"Idempotency-Key": "delivery-42"}
    first = api.post(f"/workflows/{hooked['id']}/hooks", body, headers=key)
    assert first.status_code == 202, first.text
    again = api.post(f"/workflows/{hooked['id']}/hooks", body, headers=key)
    assert again.json()["id"] == first.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"
    run = first.json()
    assert run["trigger_key"] == "webhook:delivery-42" and run["trigger"] == {"type": "webhook", "payload": body}
    assert (run["entity_type"], run["entity_id"]) == ("contact", contact["id"])

    idle = _workflow(api, enabled=True)
    assert_problem(api.post(f"/workflows/{idle['id']}/hooks", {}), 409)   # not a webhook-triggered workflow
    api.patch(f"/workflows/{hooked['id']}", {"enabled": False})
    assert_problem(api.post(f"/workflows/{hooked['id']}/hooks", {}), 409)
    assert api.get(f"/workflows/{hooked['id']}").json()["runs"] == 1


def test_another_agency_sees_nothing(api, other_api):
    wid = _workflow(api, definition=HOOKED, enabled=True)["id"]
    run_id = api.post(f"/workflows/{wid}/runs").json()["id"]
    for response in (other_api.get(f"/workflows/{wid}"), other_api.patch(f"/workflows/{wid}", {"enabled": False}),
                     other_api.delete(f"/workflows/{wid}"), other_api.post(f"/workflows/{wid}/runs"),
                     other_api.post(f"/workflows/{wid}/hooks", {}), other_api.get(f"/workflows/{wid}/runs"),
                     other_api.get(f"/workflows/{wid}/report"), other_api.get(f"/workflow-runs/{run_id}")):
        assert_problem(response, 404)
    assert other_api.get("/workflows").json()["data"] == []
    assert api.get(f"/workflows/{wid}").json()["enabled"] is True and api.get(f"/workflows/{wid}").json()["runs"] == 1


def test_reading_needs_no_writer_but_writing_does(client, tenant):
    from crm.tenancy import create_api_key
    from tests.api.conftest import Api

    key = create_api_key(tenant["tenant_id"], role="read-only")["api_key"]
    reader = Api(client, {"Authorization": f"Bearer {key}"})
    assert reader.get("/workflows").status_code == 200
    assert_problem(reader.post("/workflows", {"name": "x", "definition": IDLE}), 403)

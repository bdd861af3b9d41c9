"""Writes that race each other: real threads against the real app, started together by a barrier.

Whatever the interleaving, a write answers 2xx, 404, 409 or 412 (never 5xx), and the rules that read
before they write (next stage position, a deal's current stage, the one default pipeline) hold.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import Api

RACE_OK = {200, 201, 204, 404, 409, 412}


def race(calls: list) -> list:
    """Run the zero-argument callables at once (as near as threads allow) and return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_stage_creation_gets_distinct_positions(api: Api):
    pipeline = api.pipeline(stages=[{"name": "Start"}])
    pid = pipeline["id"]
    responses = race([lambda i=i: api.post(f"/pipelines/{pid}/stages", {"name": f"Stage {i}"}) for i in range(10)])
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses if r.status_code != 201]
    positions = sorted(s["position"] for s in api.get(f"/pipelines/{pid}").json()["stages"])
    assert positions == list(range(11))


def test_patch_racing_delete_answers_404_never_500(api: Api):
    for _ in range(10):
        note = api.create("notes", {"body": "racing"})
        path = f"/notes/{note['id']}"
        calls = [lambda p=path: api.delete(p)]
        calls += [lambda p=path, i=i: api.patch(p, {"body": f"edit {i}"}) for i in range(9)]
        statuses = [r.status_code for r in race(calls)]
        assert set(statuses) <= RACE_OK, statuses
        assert statuses[0] == 204
        assert api.get(path).status_code == 404


def test_concurrent_deal_moves_keep_a_consistent_history(api: Api):
    pipeline = api.pipeline()
    stages = [s["id"] for s in pipeline["stages"] if not (s["is_won"] or s["is_lost"])]
    deal = api.deal(pipeline_id=pipeline["id"])
    path = f"/deals/{deal['id']}"
    targets = [stages[i % len(stages)] for i in range(1, 11)]
    statuses = [r.status_code for r in race([lambda t=t: api.patch(path, {"stage_id": t}) for t in targets])]
    assert set(statuses) <= RACE_OK, statuses

    final = api.get(path).json()
    history = final["stage_history"]
    assert history[0]["from_stage_id"] is None
    for before, after in itertools.pairwise(history):
        assert after["from_stage_id"] == before["to_stage_id"], history
        assert after["from_stage_id"] != after["to_stage_id"]
    assert history[-1]["to_stage_id"] == final["stage_id"]


def test_concurrent_defaults_leave_exactly_one_default_pipeline(api: Api):
    pipelines = [api.pipeline(name=f"P{i}") for i in range(6)]
    calls = [lambda p=p: api.patch(f"/pipelines/{p['id']}", {"is_default": True}) for p in pipelines]
    calls += [lambda i=i: api.post("/pipelines", {"name": f"New {i}", "is_default": True}) for i in range(4)]
    statuses = [r.status_code for r in race(calls)]
    assert set(statuses) <= RACE_OK, statuses
    defaults = [p for p in api.list_all("pipelines") if p["is_default"]]
    assert len(defaults) == 1, defaults


def test_setting_a_default_pipeline_clears_the_previous_one(api: Api):
    first = api.pipeline(name="First", is_default=True)
    second = api.pipeline(name="Second", is_default=True)
    assert api.get(f"/pipelines/{first['id']}").json()["is_default"] is False
    assert api.patch(f"/pipelines/{first['id']}", {"is_default": True}).status_code == 200
    assert api.get(f"/pipelines/{second['id']}").json()["is_default"] is False
    assert [p["id"] for p in api.list_all("pipelines") if p["is_default"]] == [first["id"]]


def test_a_lock_the_database_gives_up_on_is_409_with_retry_after(api: Api, tenant):
    """A real lock conflict (NOWAIT on a row another transaction holds) goes through the app's handlers."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from api.errors import install_error_handlers
    from crm.db.engine import tenant_session

    note = api.create("notes", {"body": "held"})
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/grab")
    def grab() -> dict:
        with tenant_session(tenant["tenant_id"]) as session:
            session.execute(text("select 1 from notes where id = :i for update nowait"), {"i": note["id"]})
        return {}

    with tenant_session(tenant["tenant_id"]) as holder:
        holder.execute(text("select 1 from notes where id = :i for update"), {"i": note["id"]})
        response = TestClient(app, raise_server_exceptions=False).post("/grab")
    assert response.status_code == 409, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")

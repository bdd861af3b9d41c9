"""Pipelines with ordered stages; deals that follow their stage to won/lost and keep a stage history."""

from __future__ import annotations

from tests.api.conftest import assert_problem


def _stage(pipeline: dict, name: str) -> dict:
    return next(s for s in pipeline["stages"] if s["name"] == name)


def test_default_pipeline_has_ordered_stages_with_probabilities(api):
    pipeline = api.pipeline(is_default=True)
    names = [s["name"] for s in pipeline["stages"]]
    assert names == ["Lead in", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert [s["position"] for s in pipeline["stages"]] == list(range(6))
    assert _stage(pipeline, "Won")["is_won"] and _stage(pipeline, "Won")["win_probability"] == 1.0
    assert _stage(pipeline, "Lost")["is_lost"]


def test_deal_without_pipeline_needs_one(api):
    body = assert_problem(api.post("/deals", {"name": "Too early"}), 422)
    assert "no pipeline" in body["detail"]


def test_deal_lands_in_first_stage_of_default_pipeline(api):
    api.pipeline(name="Other")
    default = api.pipeline(name="Main", is_default=True)
    deal = api.deal()
    assert deal["pipeline_id"] == default["id"]
    assert deal["stage_id"] == _stage(default, "Lead in")["id"]
    assert deal["status"] == "open"
    assert [h["to_stage_id"] for h in deal["stage_history"]] == [deal["stage_id"]]


def test_deal_stage_moves_are_recorded_and_close_the_deal(api):
    pipeline = api.pipeline()
    deal = api.deal(pipeline_id=pipeline["id"], amount="5000")
    qualified, won, lost = (_stage(pipeline, n)["id"] for n in ("Qualified", "Won", "Lost"))

    moved = api.patch(f"/deals/{deal['id']}", {"stage_id": qualified}).json()
    assert moved["status"] == "open" and moved["closed_at"] is None
    won_deal = api.patch(f"/deals/{deal['id']}", {"stage_id": won}).json()
    assert won_deal["status"] == "won" and won_deal["closed_at"] is not None
    lost_deal = api.patch(f"/deals/{deal['id']}", {"stage_id": lost, "lost_reason": "budget cut"}).json()
    assert lost_deal["status"] == "lost" and lost_deal["lost_reason"] == "budget cut"
    reopened = api.patch(f"/deals/{deal['id']}", {"stage_id": qualified}).json()
    assert reopened["status"] == "open" and reopened["lost_reason"] is None and reopened["closed_at"] is None

    history = api.get(f"/deals/{deal['id']}").json()["stage_history"]
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in history] == [
        (None, deal["stage_id"]), (deal["stage_id"], qualified), (qualified, won), (won, lost), (lost, qualified)]
    # a patch that does not move the stage adds no history
    api.patch(f"/deals/{deal['id']}", {"amount": "6000"})
    assert len(api.get(f"/deals/{deal['id']}").json()["stage_history"]) == 5


def test_deal_created_in_won_stage_is_won(api):
    pipeline = api.pipeline()
    deal = api.deal(stage_id=_stage(pipeline, "Won")["id"])
    assert deal["status"] == "won" and deal["pipeline_id"] == pipeline["id"]


def test_deal_stage_must_belong_to_its_pipeline(api):
    first, second = api.pipeline(name="A"), api.pipeline(name="B")
    assert_problem(api.post("/deals", {"name": "x", "pipeline_id": first["id"],
                                       "stage_id": second["stages"][0]["id"]}), 422)
    deal = api.deal(pipeline_id=first["id"])
    assert_problem(api.patch(f"/deals/{deal['id']}", {"stage_id": second["stages"][1]["id"]}), 422)
    assert_problem(api.post("/deals", {"name": "x", "stage_id": "00000000-0000-0000-0000-000000000001"}), 422)


def test_stage_routes(api):
    pipeline = api.pipeline(stages=[{"name": "One"}])
    pid = pipeline["id"]
    added = api.post(f"/pipelines/{pid}/stages", {"name": "Two", "win_probability": 0.4})
    assert added.status_code == 201 and added.json()["position"] == 1
    sid = added.json()["id"]
    renamed = api.patch(f"/pipelines/{pid}/stages/{sid}", {"name": "Second", "win_probability": 0.45})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Second"
    assert_problem(api.patch(f"/pipelines/{pid}/stages/{sid}", {"is_won": True, "is_lost": True}), 422)
    assert_problem(api.post(f"/pipelines/{pid}/stages", {"name": "Both", "is_won": True, "is_lost": True}), 422)
    # a position taken by another stage of the pipeline is a conflict, found at commit
    assert_problem(api.post(f"/pipelines/{pid}/stages", {"name": "Dup", "position": 0}), 409)
    assert api.delete(f"/pipelines/{pid}/stages/{sid}").status_code == 204
    assert_problem(api.delete(f"/pipelines/{pid}/stages/{sid}"), 404)
    stages = api.get(f"/pipelines/{pid}").json()["stages"]
    assert [s["name"] for s in stages] == ["One"]


def test_stage_in_use_cannot_be_deleted(api):
    pipeline = api.pipeline()
    deal = api.deal(pipeline_id=pipeline["id"])
    body = assert_problem(api.delete(f"/pipelines/{pipeline['id']}/stages/{deal['stage_id']}"), 409)
    assert "refer" in body["detail"]
    assert_problem(api.delete(f"/pipelines/{pipeline['id']}"), 409)


def test_stage_of_another_pipeline_is_404(api):
    first, second = api.pipeline(name="A"), api.pipeline(name="B")
    assert_problem(api.patch(f"/pipelines/{first['id']}/stages/{second['stages'][0]['id']}", {"name": "x"}), 404)


def test_pipelines_filter_by_default(api):
    api.pipeline(name="Plain")
    default = api.pipeline(name="Main", is_default=True)
    rows = api.list_all("pipelines", is_default="true")
    assert [r["id"] for r in rows] == [default["id"]]
    assert_problem(api.get("/pipelines", params={"is_default": "maybe"}), 422)

"""POST /insights as the insights agent over HTTP: grouped items with entity ids, links and citation numbers
(the contract's `answer`/`citations` unchanged), another agency's matches never listed, nothing cited off-topic."""

from __future__ import annotations

import uuid

from serving.rag.indexer import index_tenant
from tests.serving.rag_factory import citation_in_tenant


def _client_mentioning(api, name: str, rival: str) -> dict:
    company = api.company(name=name)
    contact = api.contact(f"{uuid.uuid4().hex[:8]}@example.com", first_name="Kit", company_id=company["id"])
    note = api.create("notes", {"body": f"Kit said they got a quote from {rival} last week.",
                                "contact_id": contact["id"]})
    return {"company": company["id"], "note": note["id"]}


def test_which_question_answers_with_groups_items_and_the_contract_fields(api, other_api, tenant, other_tenant):
    mine = [_client_mentioning(api, f"Wombat {n}", "Rankly") for n in ("Labs", "Goods")]
    api.company(name="Wombat Quiet")
    theirs = _client_mentioning(other_api, "Numbat Labs", "Rankly")
    index_tenant(tenant["tenant_id"])
    index_tenant(other_tenant["tenant_id"])

    r = api.post("/insights", {"question": "Which companies mentioned Rankly?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"].startswith("2 companies mentioned")
    assert {"answer", "citations", "groups", "items", "total", "plan"} <= set(body)
    assert all(set(c) == {"source_type", "source_id", "snippet", "occurred_at"} for c in body["citations"])
    assert body["total"] == 2 and body["plan"] == {"shape": "aggregate", "planner": "offline"}
    [group] = body["groups"]
    assert group["count"] == 2 and {i["entity_id"] for i in group["items"]} == {m["company"] for m in mine}
    for item in body["items"]:
        assert item["entity_type"] == "company" and item["url"] == f"/companies/{item['entity_id']}"
        cited = [body["citations"][n - 1] for n in item["citations"]]
        assert cited and all(c["source_id"] in {m["note"] for m in mine} for c in cited)
    assert all(citation_in_tenant(tenant["tenant_id"], c) for c in body["citations"])
    assert theirs["company"] not in r.text and "Numbat" not in r.text

    off = api.post("/insights", {"question": "What is the capital of France?"}).json()
    assert off["citations"] == [] and off["groups"] == [] and off["items"] == []

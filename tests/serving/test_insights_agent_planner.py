"""The offline planner's shapes: question wording -> tool plan (no database, no model)."""

from __future__ import annotations

import pytest

from serving.entity_facts import Entity
from serving.insights import QuestionRecords
from serving.insights_agent.planner import AT_RISK_TIERS, plan_offline


def plan(question: str, entity: Entity | None = None, stages=("Proposal",)):
    return plan_offline(QuestionRecords("t", question, None, None, entity, [], None, []), list(stages))


@pytest.mark.parametrize(("question", "expected"), [
    ("Which companies mentioned Adsmith?", dict(shape="aggregate", subject="company", topic="Adsmith")),
    ("How many companies raised the objection that their CEO has to sign off?",
     dict(shape="aggregate", topic="their CEO has to sign off", count_only=True)),
    ("Who mentioned Pixel & Pine?", dict(shape="aggregate", subject="contact", topic="Pixel & Pine")),
    ("Which contacts complained about slow replies?", dict(subject="contact", topic="slow replies", negative=True)),
    ("Which at-risk customers complained about reporting?",
     dict(shape="aggregate", topic="reporting", negative=True, churn_tiers=AT_RISK_TIERS)),
    ("Which hot leads mentioned Rankly?", dict(shape="aggregate", lead_tiers=("A",), topic="Rankly")),
    ("Which clients are unhappy with reporting, and why?",
     dict(shape="aggregate", topic="reporting", negative=True, by_theme=True, customers_only=True)),
    ("Why are customers unhappy?", dict(shape="why", negative=True, customers_only=True)),
    ("What are customers unhappy about?", dict(shape="why", negative=True)),
    ("Why are accounts at risk?", dict(shape="why", churn_tiers=AT_RISK_TIERS)),
    ("Which accounts are at risk?", dict(shape="records", listing="scores", churn_tiers=AT_RISK_TIERS)),
    ("Which deals are in Proposal?", dict(shape="records", listing="deals", stage="Proposal")),
    ("How did our campaigns perform?", dict(shape="records", listing="campaigns")),
    ("hot leads that mentioned a competitor", dict(shape="aggregate", subject="contact", lead_tiers=("A",),
                                                   topic="a competitor")),
    ("What should we do next about Acme Ltd?", dict(shape="next_action", target="Acme Ltd")),
    ("Next best action for Ann Lee", dict(shape="next_action", target="Ann Lee")),
    ("Which competitor did Acme mention?", dict(shape="single")),
    ("What next step was agreed with Acme on 2026-03-30?", dict(shape="single")),
    ("What is the capital of France?", dict(shape="single")),
])
def test_question_shapes(question, expected):
    got = plan(question)
    assert {k: getattr(got, k) for k in expected} == expected
    assert got.planner == "offline"


def test_a_record_page_question_is_about_that_record_unless_it_asks_which():
    acme = Entity("company", "00000000-0000-0000-0000-000000000001", "Acme")
    assert plan("What did they say about pricing?", acme).shape == "single"
    assert plan("Which contacts mentioned Adsmith?", acme).shape == "aggregate"


def test_category_topics_and_rivals_resolve_through_the_shared_concern_detector():
    from serving.concerns import rival_names, rival_pattern, states, theme_named, themes_in

    assert theme_named("a competitor or an alternative to us") == theme_named("another agency") == "a competitor"
    assert theme_named("concerns about pricing") == "price" and theme_named("Adsmith") is None
    assert theme_named("the moon landing") is None and theme_named("price or Adsmith") is None
    texts = ["Competition: Catalyst & Co.", "They got a quote from Vertex Digital last week.",
             "Also talking to Grace Lee on Monday.", "We switch to Monday calls."]
    rivals = rival_names(texts, people={"grace", "lee"})
    assert rivals == {"Catalyst & Co", "Vertex Digital"}
    assert states("Good call. Vertex Digital sent them a deck.", "a competitor", rival_pattern(rivals))
    assert states("Good call. Vertex Digital sent them a deck.", "a competitor") is None
    assert themes_in("Mia is frustrated: they feel they are not a priority.") == {"service"}
    assert "timing" in themes_in("Paid search is not a priority right now.")

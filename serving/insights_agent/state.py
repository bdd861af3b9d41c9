"""What flows through the insights graph: the plan, the evidence the tools found, the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from serving.citations import Citation
from serving.insights import Insight, QuestionRecords

Shape = Literal["single", "aggregate", "why", "records", "next_action", "nothing"]
Subject = Literal["company", "contact"]


@dataclass(frozen=True)
class Plan:
    """A tool plan. `single` keeps the one-record answer (retrieval + facts); `aggregate` lists every company
    or contact with evidence of `topic` (narrowed to score tiers when asked); `why` groups reasons by theme;
    `records` lists scored records (tiers) without text; `next_action` recommends what to do about the company or
    contact named `target` (`serving.next_action`); `nothing` is a question this workspace cannot answer."""

    shape: Shape
    subject: Subject = "company"
    topic: str = ""
    negative: bool = False               # complaints: only sentences with negative sentiment count
    churn_tiers: tuple[str, ...] = ()    # accounts whose current churn tier is one of these
    lead_tiers: tuple[str, ...] = ()     # contacts whose current lead tier is one of these
    count_only: bool = False             # "how many": the answer leads with the count
    customers_only: bool = False         # "customers" / "clients": companies that are or were customers
    by_theme: bool = False               # "... and why": the matches grouped by what they said
    listing: str = ""                    # records shape: scores | deals | campaigns
    stage: str = ""                      # deals in this stage
    target: str = ""                     # next_action: the company or contact name the question gives
    planner: str = "offline"             # offline | model | offline fallback (<reason>)

    @property
    def tiers(self) -> tuple[str, str, tuple[str, ...]] | None:
        if self.churn_tiers:
            return "account", "company", self.churn_tiers
        if self.lead_tiers:
            return "lead", "contact", self.lead_tiers
        return None


@dataclass(frozen=True)
class Evidence:
    """One sentence of the tenant's texts that supports a claim about a company or contact."""

    citation: Citation
    company_id: str | None
    contact_id: str | None
    kind: str
    score: float = 1.0


@dataclass
class Item:
    entity_type: str  # company | contact | deal | campaign
    entity_id: str
    name: str
    url: str
    evidence: list[Evidence] = field(default_factory=list)
    detail: str = ""  # e.g. "churn tier A, 72/100"


@dataclass
class Group:
    key: str
    label: str
    items: list[Item]
    count: int = 0  # entities in the group (all of them, even when items is a page of them)


@dataclass(frozen=True)
class AgentAnswer:
    insight: Insight
    groups: list[Group]
    plan: Plan

    def to_dict(self, item_limit: int) -> dict:
        """The API body: `answer` and `citations` (the contract), then `groups`/`items` and `total` (additions);
        an item's `citations` are 1-based numbers into `citations`."""
        index = {(c.source_type, c.source_id, c.snippet): n for n, c in enumerate(self.insight.citations, 1)}

        def item(i: Item) -> dict:
            return {"entity_type": i.entity_type, "entity_id": i.entity_id, "name": i.name, "url": i.url,
                    "detail": i.detail, "mentions": len(i.evidence),
                    "citations": sorted({index[k] for e in i.evidence
                                         if (k := (e.citation.source_type, e.citation.source_id,
                                                   e.citation.snippet)) in index})}

        seen: dict[str, dict] = {}
        groups = []
        for g in self.groups:
            page = [item(i) for i in g.items[:item_limit]]
            for i in page:
                seen.setdefault(i["entity_id"], i)
            groups.append({"key": g.key, "label": g.label, "count": g.count or len(g.items), "items": page})
        return {**self.insight.to_dict(), "groups": groups, "items": list(seen.values()),
                "total": len({i.entity_id for g in self.groups for i in g.items}),
                "plan": {"shape": self.plan.shape, "planner": self.plan.planner}}


class AgentState(TypedDict, total=False):
    records: QuestionRecords
    plan: Plan
    items: list[Item]                      # aggregate / why: the records the evidence is about
    themes: list                           # why: [(label, evidence)]
    scored: dict                           # score tiers' records (entity id -> ScoredRecord)
    rows: list[dict]                       # records listings: deals, campaigns
    answer: AgentAnswer

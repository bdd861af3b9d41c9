"""The agent's tools: plain typed functions, bound to the asking tenant before the graph sees them.

Nothing here takes SQL or a filter from the question: text tools read the tenant's passages (LanceDB, tenant
prefilter) and match them in Python; record tools are fixed parameterised queries run in a tenant session
(row-level security), each with `tenant_id = app_tenant_id()` on top. Another agency's rows cannot be read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from crm.db.engine import tenant_session
from serving.citations import Citation, clip
from serving.concerns import rival_names, rival_pattern, states, theme_named, themes_in
from serving.embeddings import embed_one
from serving.insights_agent.matching import TopicMatcher
from serving.insights_agent.state import Evidence
from serving.rag.retrieve import fts_terms
from serving.rag.store import open_table, tenant_filter
from serving.sentiment import score_text

# Our own outgoing emails say nothing about what a client said; "who mentioned X" reads what they said.
SAID_BY_THEM = ("note", "email_replied", "call", "meeting", "support_ticket")
SEMANTIC_CUTOFF = 0.55    # cosine (MiniLM) a sentence needs to count as about a topic no word of it names
SEMANTIC_DEPTH = 300
# A topic whose words find nothing but name one concern theme ("we are too expensive"): the detector's concerns of
# that theme at least this near the words (at 0.35 "the price of gold" listed every price complaint; at 0.45 not)
THEME_FLOOR = 0.45
NEGATIVE_BELOW = -0.05    # VADER compound under which a sentence about a named topic reads as a complaint
COMPLAINT_BELOW = -0.3    # ... and under which any sentence does, when the question names no topic
TIERS = ("A", "B", "C", "D")
_PASSAGE_COLUMNS = ["source_type", "kind", "source_id", "contact_id", "company_id", "occurred_at", "text"]


@dataclass(frozen=True)
class ScoredRecord:
    entity_id: str
    name: str
    score: int
    tier: str
    probability: float
    reasons: tuple[tuple[str, str], ...]   # (feature, sentence) of the factors that raise the score


def _raising(factors) -> tuple[tuple[str, str], ...]:
    """The published reasons that push the score up (a reason lowering churn risk does not explain it)."""
    return tuple((f.get("feature") or f.get("text"), f.get("text") or f.get("feature")) for f in (factors or [])
                 if isinstance(f, dict) and (f.get("impact") is None or f.get("impact", 0) > 0))


def _evidence(row: dict, score: float = 1.0) -> Evidence:
    cite = Citation(row["source_type"], row["source_id"], clip(row["text"]), row["occurred_at"])
    return Evidence(cite, row["company_id"], row["contact_id"], row["kind"], score)


class TenantTools:
    """Every tool the insights graph may call, for one tenant (its id checked as a UUID here, once)."""

    def __init__(self, tenant_id: str):
        self.tenant_id = str(uuid.UUID(str(tenant_id)))
        self._people: set[str] | None = None

    # ---- text -------------------------------------------------------------------------------------------
    def _scope(self, company_id: str | None, contact_id: str | None) -> str:
        kinds = ", ".join(f"'{k}'" for k in SAID_BY_THEM)
        return f"{tenant_filter(self.tenant_id, company_id=company_id, contact_id=contact_id)} and kind in ({kinds})"

    def find_mentions(self, topic: str, negative: bool = False, company_id: str | None = None,
                      contact_id: str | None = None) -> list[Evidence]:
        """Every sentence the tenant's clients said (notes, replies, calls, meetings, tickets) that speaks of
        `topic`: by its words or name first; if no sentence holds them, by meaning above SEMANTIC_CUTOFF.
        A topic naming a concern theme ("a competitor", "another agency", "pricing") is also found by the
        concern detector (`serving.concerns`), which knows the ways a note says it ("a quote from Adsmith") and
        the rivals the agency's own texts name; such a topic never falls back to meaning.
        `negative` keeps only sentences that read as complaints."""
        matcher = TopicMatcher.of(topic)
        theme = theme_named(topic)
        table = open_table()
        if table is None or not (matcher.usable or theme):
            return []
        where = self._scope(company_id, contact_id)
        rows = table.search().where(where).select(_PASSAGE_COLUMNS).limit(None).to_list()
        if theme is not None:
            rivals = self.rivals() if theme == "a competitor" else None
            found = [_evidence(r) for r in rows if matcher.matches(r["text"]) or states(r["text"], theme, rivals)]
        else:
            found = [_evidence(r) for r in rows if matcher.matches(r["text"])]
        if not found and theme is None and len(named := themes_in(topic)) == 1:
            # words that find nothing but name one theme: that theme's concerns also near the words (THEME_FLOOR)
            near = {(e.citation.source_id, e.citation.snippet): e
                    for e in self._similar(table, topic, where, THEME_FLOOR)}
            theme = named.pop()
            found = [e for r in rows if (e := near.get((r["source_id"], clip(r["text"])))) and states(r["text"], theme)]
        if not found and fts_terms(topic):
            found = self._similar(table, topic, where)
        if negative:
            found = [e for e in found if self.sentiment(e.citation.snippet) < NEGATIVE_BELOW]
        return found

    def people(self) -> set[str]:
        """The lower-case first and last names of the tenant's contacts."""
        if self._people is None:
            with tenant_session(self.tenant_id) as session:
                rows = session.execute(text("select lower(first_name), lower(last_name) from contacts "
                                            "where tenant_id = app_tenant_id()")).all()
            self._people = {n for row in rows for n in row if n}
        return self._people

    def sentiment(self, sentence: str) -> float:
        """VADER compound of the sentence with the tenant's people's names left out: a name is no feeling, but
        VADER's lexicon reads some ("Mia" scores -0.3)."""
        people = self.people()
        words = [w for w in sentence.split() if w.strip(".,;:!?()\"'").lower() not in people]
        return score_text(" ".join(words))

    def rivals(self):
        """A pattern for the other agencies this tenant's clients name ("a quote from X", "Competition: X"),
        learnt from all their texts (never a list given in advance), or None when they name none."""
        table = open_table()
        if table is None:
            return None
        rows = table.search().where(self._scope(None, None)).select(["text"]).limit(None).to_list()
        with tenant_session(self.tenant_id) as session:
            own = set(session.execute(text("select lower(name) from companies where tenant_id = app_tenant_id()"))
                      .scalars())
        return rival_pattern(rival_names((r["text"] for r in rows), self.people(), own))

    def _similar(self, table, topic: str, where: str, cutoff: float = SEMANTIC_CUTOFF) -> list[Evidence]:
        rows = (table.search(embed_one(topic), query_type="vector").distance_type("cosine")
                .select([*_PASSAGE_COLUMNS, "_distance"]).where(where, prefilter=True).limit(SEMANTIC_DEPTH)
                .to_list())
        return [_evidence(r, 1.0 - r["_distance"]) for r in rows if 1.0 - r["_distance"] >= cutoff]

    def complaints(self) -> list[Evidence]:
        """Every sentence of the tenant's clients that reads as a complaint (VADER below COMPLAINT_BELOW), looked
        for only in texts whose published sentiment is negative when the sentiment job has run."""
        table = open_table()
        if table is None:
            return []
        rows = table.search().where(self._scope(None, None)).select(_PASSAGE_COLUMNS).limit(None).to_list()
        negative = self._negative_texts()
        if negative is not None:
            rows = [r for r in rows if r["source_id"] in negative]
        return [_evidence(r, -c) for r in rows if (c := self.sentiment(r["text"])) < COMPLAINT_BELOW]

    def _negative_texts(self) -> set[str] | None:
        with tenant_session(self.tenant_id) as session:
            if session.execute(text("select to_regclass('text_sentiment')")).scalar() is None:
                return None
            scored = session.execute(text("select exists (select 1 from text_sentiment "
                                          "where tenant_id = app_tenant_id())")).scalar()
            if not scored:
                return None
            return set(session.execute(text(
                "select cast(source_id as text) from text_sentiment where tenant_id = app_tenant_id() "
                "and compound < 0")).scalars())

    def customer_ids(self) -> set[str]:
        """The tenant's companies that are or were customers (lifecycle customer or churned)."""
        with tenant_session(self.tenant_id) as session:
            return set(session.execute(text(
                "select cast(id as text) from companies where tenant_id = app_tenant_id() "
                "and lifecycle in ('customer', 'churned')")).scalars())

    def themes_of(self, query: str, negative: bool, company_ids: Sequence[str] | None = None) -> list[Evidence]:
        """Sentences about `query` by meaning (for why-questions), optionally only of these companies."""
        table = open_table()
        if table is None:
            return []
        rows = self._similar(table, query, self._scope(None, None))
        if company_ids is not None:
            keep = set(company_ids)
            rows = [e for e in rows if e.company_id in keep]
        if negative:
            rows = [e for e in rows if self.sentiment(e.citation.snippet) < NEGATIVE_BELOW]
        return rows

    # ---- records (fixed, parameterised queries under RLS) ------------------------------------------------
    def scored(self, entity_type: str, tiers: Sequence[str], min_probability: float = 0.0) -> dict[str, ScoredRecord]:
        """Current scores of the tenant's accounts ('account': churn risk) or leads ('lead') in these tiers, with
        at least this probability."""
        if entity_type not in ("account", "lead"):
            raise ValueError(f"entity_type must be account or lead, not {entity_type!r}")
        tiers = [t for t in tiers if t in TIERS]
        name = ("(select name from companies c where c.id = s.entity_id)" if entity_type == "account" else
                "(select coalesce(nullif(concat_ws(' ', first_name, last_name), ''), email) from contacts c "
                "where c.id = s.entity_id)")
        with tenant_session(self.tenant_id) as session:
            rows = session.execute(text(
                f"select cast(s.entity_id as text) as id, {name} as name, s.score, s.tier, s.probability, s.factors "
                "from scores s where s.tenant_id = app_tenant_id() and s.entity_type = :e and s.tier = any(:tiers) "
                "and s.probability >= :p order by s.score desc"),
                {"e": entity_type, "tiers": tiers, "p": float(min_probability)}).all()
        return {r.id: ScoredRecord(r.id, r.name, r.score, r.tier, r.probability, _raising(r.factors))
                for r in rows if r.name is not None}

    def names(self, entity_type: str, ids: Sequence[str]) -> dict[str, str]:
        """Entity lookup: the names of these companies or contacts as the tenant sees them (others: absent)."""
        ids = [str(uuid.UUID(i)) for i in ids]
        sql = ("select cast(id as text) as id, name from companies where tenant_id = app_tenant_id() and "
               "id = any(cast(:ids as uuid[]))") if entity_type == "company" else (
               "select cast(id as text) as id, coalesce(nullif(concat_ws(' ', first_name, last_name), ''), email) "
               "as name from contacts where tenant_id = app_tenant_id() and id = any(cast(:ids as uuid[]))")
        with tenant_session(self.tenant_id) as session:
            return {r.id: r.name for r in session.execute(text(sql), {"ids": ids})}

    def find_record(self, name: str) -> tuple[str, str, str] | None:
        """Entity lookup by name: (kind, id, name) of the tenant's company with this name, else its contact with
        this full name or email (case-insensitive; another agency's records are invisible here)."""
        with tenant_session(self.tenant_id) as session:
            row = session.execute(text(
                "select 'company' as kind, cast(id as text) as id, name from companies where tenant_id = "
                "app_tenant_id() and lower(name) = lower(:n) union all select 'contact', cast(id as text), "
                "coalesce(nullif(concat_ws(' ', first_name, last_name), ''), email) from contacts where tenant_id = "
                "app_tenant_id() and (lower(concat_ws(' ', first_name, last_name)) = lower(:n) or lower(email) = "
                "lower(:n)) order by 1 limit 1"), {"n": name.strip()}).first()
        return (row.kind, row.id, row.name) if row else None

    def next_action(self, kind: str, entity_id: str):
        """The next best action for the tenant's company or contact (`serving.next_action.recommend`)."""
        from serving.next_action import recommend

        with tenant_session(self.tenant_id) as session:
            return recommend(session, kind, entity_id)

    def deals_in_stage(self, stage: str) -> list[dict]:
        """Open deals whose stage is named `stage` (any pipeline), largest first."""
        with tenant_session(self.tenant_id) as session:
            rows = session.execute(text(
                "select cast(d.id as text) as id, d.name, d.amount, d.currency, s.name as stage, "
                "cast(d.company_id as text) as company_id from deals d join pipeline_stages s on s.id = d.stage_id "
                "where d.tenant_id = app_tenant_id() and d.status = 'open' and lower(s.name) = lower(:stage) "
                "order by d.amount desc nulls last, d.id"), {"stage": stage}).all()
        return [dict(r._mapping) for r in rows]

    def stage_names(self) -> list[str]:
        with tenant_session(self.tenant_id) as session:
            return list(session.execute(text("select distinct name from pipeline_stages "
                                             "where tenant_id = app_tenant_id()")).scalars())

    def campaign_results(self) -> list[dict]:
        """Each campaign with its members and how many of them responded (opened, clicked, replied...)."""
        with tenant_session(self.tenant_id) as session:
            rows = session.execute(text(
                "select cast(c.id as text) as id, c.name, c.status, c.channel, count(m.contact_id) as members, "
                "count(m.contact_id) filter (where m.status not in ('member', 'sent')) as responded "
                "from campaigns c left join campaign_members m on m.campaign_id = c.id and m.tenant_id = c.tenant_id "
                "where c.tenant_id = app_tenant_id() group by c.id, c.name, c.status, c.channel "
                "order by responded desc, c.name"), {}).all()
        return [dict(r._mapping) for r in rows]

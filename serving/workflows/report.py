""""AI suggests improvements": did the records a workflow enrolled do better than similar records it did not?

For one workflow, in the caller's tenant session (RLS decides what exists):
- enrolled: each record its runs were about, at the instant of its first run (the enrolment);
- similar, not enrolled: records of the same kind never enrolled, in the same stratum of what the agency knew
  at the time (a contact's lead tier, a company's churn-risk tier, from `score_history`; a deal's stage, from
  `deal_stage_history`), taken at the median enrolment instant of that stratum;
- outcome over a horizon after that instant: a contact won a deal; a client company was not churned; a deal
  was won. Only records whose horizon has fully passed count; the others are reported as pending.

The comparison rate is standardised to the enrolled group's mix of strata (each stratum weighted by its
share of enrolled records), so a workflow that enrols tier-A leads is compared with tier-A leads. Each rate
gets a Wilson 95 % interval (the comparison's at its effective size), and the difference Newcombe's hybrid
score interval built from them, which stays honest at small counts and at rates of 0 or 1. Below
MIN_GROUP records in either group the suggestion says the evidence is too thin, whatever the numbers.

This is an observational comparison, not an experiment: who a workflow enrols is not random, and matching on
one stratum leaves other differences. The suggestion says so. No language model is involved.
"""

from __future__ import annotations

import math
import statistics
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

Z95 = 1.959964
MIN_GROUP = 20   # below this many records with a complete outcome in a group, no conclusion is drawn


@dataclass(frozen=True)
class Kind:
    table: str
    matched_on: str
    outcome: str
    horizon_days: int
    stratum: str      # SQL over the pair p(id, t): what the agency knew about p.id at p.t
    eligible: str     # SQL: p.id could still reach the outcome at p.t
    success: str      # SQL: p.id reached the outcome within (p.t, p.t + horizon]


def _tier_at(score_type: str) -> str:
    return ("coalesce((select h.tier from score_history h where h.tenant_id = app_tenant_id() "
            f"and h.entity_type = '{score_type}' and h.entity_id = p.id and h.scored_at <= p.t "
            "order by h.scored_at desc, h.id desc limit 1), 'unscored')")


KINDS: dict[str, Kind] = {
    "contact": Kind(
        "contacts", "lead tier at enrolment", "won a deal", 30, _tier_at("lead"),
        "not exists (select 1 from deals d where d.contact_id = p.id and d.status = 'won' and d.closed_at <= p.t)",
        "exists (select 1 from deals d where d.contact_id = p.id and d.status = 'won' "
        "and d.closed_at > p.t and d.closed_at <= p.t + :horizon)"),
    "company": Kind(
        "companies", "churn-risk tier at enrolment", "still a client (not churned)", 90, _tier_at("account"),
        "(select c.customer_since is not null and c.customer_since <= cast(p.t as date) "
        "and (c.churned_at is null or c.churned_at > p.t) from companies c where c.id = p.id)",
        "(select c.churned_at is null or c.churned_at > p.t + :horizon from companies c where c.id = p.id)"),
    "deal": Kind(
        "deals", "pipeline stage at enrolment", "won", 30,
        "coalesce((select s.name from deal_stage_history x join pipeline_stages s on s.id = x.to_stage_id "
        "where x.deal_id = p.id and x.changed_at <= p.t order by x.changed_at desc limit 1), "
        "(select s.name from deals d join pipeline_stages s on s.id = d.stage_id where d.id = p.id))",
        "(select d.closed_at is null or d.closed_at > p.t from deals d where d.id = p.id)",
        "(select d.status = 'won' and d.closed_at > p.t and d.closed_at <= p.t + :horizon "
        "from deals d where d.id = p.id)"),
}


@dataclass
class Group:
    records: int = 0        # with a complete outcome, in a stratum both groups share
    successes: int = 0
    rate: float | None = None
    interval: list[float] | None = None
    effective_size: float | None = None


@dataclass
class Stratum:
    stratum: str
    enrolled: int = 0
    enrolled_successes: int = 0
    comparison: int = 0
    comparison_successes: int = 0


@dataclass
class Report:
    workflow_id: str
    entity_type: str | None
    matched_on: str | None
    outcome: str | None
    horizon_days: int | None
    as_of: str
    enrolled_total: int = 0      # records the workflow's runs were about
    enrolled_pending: int = 0    # horizon not over yet
    enrolled_ineligible: int = 0  # already had the outcome (or could not have it) at enrolment
    enrolled_unmatched: int = 0   # in a stratum with no comparable record
    enrolled: Group = field(default_factory=Group)
    comparison: Group = field(default_factory=Group)
    difference: float | None = None
    difference_interval: list[float] | None = None
    strata: list[Stratum] = field(default_factory=list)
    verdict: str = "no_data"     # no_data | too_thin | better | worse | no_difference
    suggestion: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


# --- statistics ------------------------------------------------------------------------------------------

def wilson(rate: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion observed as `rate` over `n` (n may be an effective size)."""
    if n <= 0:
        return 0.0, 1.0
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(p1: float, ci1: tuple[float, float], p2: float, ci2: tuple[float, float]) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p1 - p2 from each proportion's Wilson interval."""
    d = p1 - p2
    return (d - math.sqrt((p1 - ci1[0]) ** 2 + (ci2[1] - p2) ** 2),
            d + math.sqrt((ci1[1] - p1) ** 2 + (p2 - ci2[0]) ** 2))


# --- data ------------------------------------------------------------------------------------------------

def _entity_type(session: Session, workflow_id: uuid.UUID) -> str | None:
    return session.execute(text(
        "select entity_type from workflow_runs where workflow_id = :w and entity_type is not null "
        "group by entity_type order by count(*) desc, entity_type limit 1"), {"w": workflow_id}).scalar()


def _outcomes(session: Session, kind: Kind, pairs_sql: str, params: dict, stratum: str | None = None) -> list[tuple]:
    """(id, t, stratum, eligible, success) for each pair (id, t) the `pairs_sql` gives; with `stratum`, only the
    pairs in it (their outcome is looked up for those only)."""
    only = "where p.stratum = :stratum" if stratum is not None else ""
    sql = (f"with pairs as ({pairs_sql}), p as (select p.id, p.t, {kind.stratum} as stratum from pairs p) "
           f"select p.id, p.t, p.stratum, coalesce({kind.eligible}, false) as eligible, "
           f"coalesce({kind.success}, false) as success from p {only}")
    return [tuple(r) for r in session.execute(text(sql), {**params, "stratum": stratum})]


def workflow_report(session: Session, workflow_id: uuid.UUID, horizon_days: int | None = None,
                    as_of: datetime | None = None) -> Report:
    """The report of one workflow of the session's tenant (the caller checks it exists)."""
    as_of = as_of or datetime.now(UTC)
    entity_type = _entity_type(session, workflow_id)
    kind = KINDS.get(entity_type or "")
    report = Report(str(workflow_id), entity_type, kind and kind.matched_on, kind and kind.outcome,
                    (horizon_days or kind.horizon_days) if kind else None, as_of.isoformat())
    if kind is None:
        report.suggestion = ("No run of this workflow has enrolled a contact, company or deal yet, so there is "
                             "nothing to compare." if entity_type is None else
                             f"Runs about {entity_type} records have no outcome to compare.")
        return report
    horizon = timedelta(days=report.horizon_days)
    enrolled = _outcomes(session, kind, "select entity_id as id, min(queued_at) as t from workflow_runs "
                                        "where workflow_id = :w and entity_type = :e and entity_id is not null "
                                        "group by entity_id",
                         {"w": workflow_id, "e": entity_type, "horizon": horizon})
    report.enrolled_total = len(enrolled)
    complete = [r for r in enrolled if r[1] + horizon <= as_of]
    report.enrolled_pending = len(enrolled) - len(complete)
    eligible = [r for r in complete if r[3]]
    report.enrolled_ineligible = len(complete) - len(eligible)
    by_stratum: dict[str, list[tuple]] = {}
    for row in eligible:
        by_stratum.setdefault(row[2], []).append(row)
    ids = [r[0] for r in enrolled]
    for name, rows in sorted(by_stratum.items()):
        reference = statistics.median_low(sorted(r[1] for r in rows))
        others = _outcomes(session, kind, f"select x.id, cast(:r as timestamptz) as t from {kind.table} x "
                                          "where x.created_at <= :r and x.id <> all(:ids)",
                           {"r": reference, "ids": ids, "horizon": horizon}, stratum=name)
        similar = [r for r in others if r[3]]
        report.strata.append(Stratum(name, len(rows), sum(r[4] for r in rows),
                                     len(similar), sum(r[4] for r in similar)))
    _compare(report)
    report.suggestion = _suggest(report)
    return report


def _compare(report: Report) -> None:
    matched = [s for s in report.strata if s.enrolled and s.comparison]
    report.enrolled_unmatched = sum(s.enrolled for s in report.strata if not s.comparison)
    n = sum(s.enrolled for s in matched)
    if not n:
        return
    k = sum(s.enrolled_successes for s in matched)
    p1 = k / n
    weights = [(s.enrolled / n, s) for s in matched]
    p2 = sum(w * s.comparison_successes / s.comparison for w, s in weights)
    n2 = 1 / sum(w * w / s.comparison for w, s in weights)   # effective size of the standardised rate
    ci1, ci2 = wilson(p1, n), wilson(p2, n2)
    report.enrolled = Group(n, k, p1, list(ci1), float(n))
    report.comparison = Group(sum(s.comparison for s in matched), sum(s.comparison_successes for s in matched),
                              p2, list(ci2), n2)
    report.difference = p1 - p2
    report.difference_interval = list(newcombe(p1, ci1, p2, ci2))


def _points(value: float) -> str:
    return f"{value * 100:+.0f} points"


def _suggest(r: Report) -> str:
    pending = (f" {r.enrolled_pending} more enrolled record(s) are still inside the {r.horizon_days}-day horizon."
               if r.enrolled_pending else "")
    caveat = (f" Records were matched on {r.matched_on} only; who a workflow enrols is not random, so other "
              "differences may remain.")
    if r.difference is None:
        r.verdict = "no_data" if not r.enrolled_total else "too_thin"
        return (f"No enrolled record has a complete {r.horizon_days}-day outcome with a comparable record yet "
                f"({r.enrolled_total} enrolled).{pending} Check back later.")
    lo, hi = r.difference_interval
    span = f"{_points(lo)} to {_points(hi)}"
    outcome = f"{r.outcome} within {r.horizon_days} days"
    rates = (f"{r.enrolled.rate:.0%} of {r.enrolled.records} enrolled vs {r.comparison.rate:.0%} of "
             f"{r.comparison.records} similar records not enrolled {outcome}")
    if r.enrolled.records < MIN_GROUP or (r.comparison.effective_size or 0) < MIN_GROUP:
        r.verdict = "too_thin"
        return (f"Too few records to conclude: {rates}. The difference could be anywhere from {span} (95 % "
                f"interval); at least {MIN_GROUP} records in each group are needed before drawing a "
                f"conclusion.{pending} Keep the workflow running and check back.")
    if lo > 0:
        r.verdict = "better"
        return (f"Enrolled records did better: {rates}, a difference of {_points(r.difference)} (95 % interval "
                f"{span}). Keep the workflow enabled; consider widening its trigger to enrol more records "
                f"like these.{caveat}")
    if hi < 0:
        r.verdict = "worse"
        return (f"Enrolled records did worse: {rates}, a difference of {_points(r.difference)} (95 % interval "
                f"{span}). Review its steps (timing, who gets the task, the message) or disable it.{caveat}")
    r.verdict = "no_difference"
    return (f"No measurable difference: {rates} (95 % interval of the difference {span}). The workflow is not "
            "changing the outcome by more than that; try a different step or timing, or a narrower trigger."
            f"{caveat}")

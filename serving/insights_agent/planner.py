"""The offline planner: question patterns -> a tool plan. Deterministic, so tests pin each shape.

Shapes: "which / how many / who <companies|contacts> <mentioned|raised|complained about|...> X" (aggregate),
optionally narrowed by a score tier ("at-risk customers", "hot leads"); "why ..." (reasons grouped by theme);
"which accounts are at risk" / "deals in <stage>" / "campaign results" (records); "what should we do next about
<company or contact>" / "next best action for <name>" (next_action: `serving.next_action.recommend`); a bare
"hot leads that mentioned X" reads as "which hot leads ..."; a question about one
record (an id given, or a company named) keeps the single-record answer; anything else is a search whose
answer must clear a relevance cut-off, else nothing is cited.
"""

from __future__ import annotations

import re

from serving.insights import QuestionRecords
from serving.insights_agent.state import Plan

COMPANY_WORDS = r"compan(?:y|ies)|clients?|accounts?|customers?|brands?|businesses|organi[sz]ations?"
CONTACT_WORDS = r"contacts?|people|persons?|prospects?|leads?|buyers?|decision[- ]makers?"
_VERBS = (r"mentioned|mention|mentions|brought up|talked about|spoke about|spoken about|referred to|named|"
          r"(?:are |were |is )?compar(?:ed|ing) us (?:with|to)|(?:are |were )?(?:also )?talking to|got a quote from|"
          r"(?:are |were |is )?considering(?: switching to)?|(?:are |were |is )?evaluating|switch(?:ed|ing)? to|"
          r"raised(?: the| an| a)?(?: objection| concern)?(?: that| about| of|:)?|objected(?: to| that)?|"
          r"(?:have |has |had )?complained(?: about| that| of)?|(?:are |were |is )?(?:unhappy|frustrated|"
          r"dissatisfied|upset|angry)(?: with| about| by| over)?|asked (?:about|for)|"
          r"(?:are |were |is )?(?:worried|concerned) (?:about|that)|(?:are |were |is )?interested in|said|wants?|"
          r"wanted|need(?:s|ed)?|pushed back on")
_NEGATIVE = re.compile(r"complain|unhappy|frustrat|dissatisf|upset|angry", re.IGNORECASE)
_AT_RISK = re.compile(r"\bat[- ]risk\b|\bhigh[- ]risk\b|\blikely to (?:churn|leave)\b|\bchurn(?:ing)? risk\b|"
                      r"\brisky\b|\bmay churn\b", re.IGNORECASE)
_LEAD_TIERS = [(re.compile(r"\b(?:hot|top|best|high[- ]scor\w*)\b", re.IGNORECASE), ("A",)),
               (re.compile(r"\bwarm\b", re.IGNORECASE), ("B",)),
               (re.compile(r"\b(?:cold|low[- ]scor\w*)\b", re.IGNORECASE), ("C", "D"))]
# "At risk" is what the home page counts: a churn probability of at least one half, in any tier (tiers are
# quantiles of each agency's model, so a tier B account may be at 19/100)
AT_RISK_TIERS = ("A", "B", "C", "D")
AT_RISK_PROBABILITY = 0.5
_CUSTOMERS = re.compile(r"\b(?:customers?|clients?)\b", re.IGNORECASE)

_AGGREGATE = re.compile(
    rf"^\s*(?:which|what|how many|list|show(?: me)?|name|find|who(?:m)?)\b(?P<head>.*?)\b(?P<verb>{_VERBS})\b"
    r"(?P<topic>.*?)(?P<why>,?\s*and why)?\s*[?.!]*\s*$", re.IGNORECASE)
_WHY = re.compile(r"^\s*why\b(?P<rest>.*?)[?.!]*\s*$", re.IGNORECASE)
_DEALS = re.compile(r"\bdeals?\b.*\b(?:in|at)\s+(?:the\s+)?(?P<stage>[\w &/-]+?)(?:\s+stage)?\s*[?.!]*\s*$",
                    re.IGNORECASE)
_CAMPAIGNS = re.compile(r"\bcampaigns?\b.*\b(?:results?|perform\w*|do|did|work\w*|respon\w*)\b|"
                        r"\b(?:results?|perform\w*)\b.*\bcampaigns?\b", re.IGNORECASE)
_NEXT_ACTION = re.compile(
    r"^\s*(?:what(?:'s| is| are)? (?:should|shall|do|can|could) (?:we|i) do (?:next )?(?:about|with|for)|"
    r"what(?:'s| is) (?:the )?next (?:best )?(?:action|step|move) (?:for|with|on)|"
    r"(?:the |our )?next best action (?:for|on|with)|how (?:should|do) (?:we|i) (?:move|follow up) "
    r"(?:with|on))\s+(?P<target>.+?)\s*(?:next)?\s*[?.!]*\s*$", re.IGNORECASE)
_BARE_LIST = re.compile(rf"^\s*(?:the\s+)?(?:[\w-]+\s+){{0,3}}?(?:{COMPANY_WORDS}|{CONTACT_WORDS})\s+"
                        r"(?:that|who|which)\b", re.IGNORECASE)
_LIST_RISK = re.compile(rf"^\s*(?:which|what|who|list|show(?: me)?|how many)\b.*"
                        rf"\b(?:{COMPANY_WORDS}|{CONTACT_WORDS})\b", re.IGNORECASE)


def _subject(head: str, lead_tiers: tuple[str, ...], verb_is_who: bool) -> str:
    if re.search(rf"\b(?:{COMPANY_WORDS})\b", head, re.IGNORECASE) and not lead_tiers:
        return "company"
    if lead_tiers or re.search(rf"\b(?:{CONTACT_WORDS})\b", head, re.IGNORECASE) or verb_is_who:
        return "contact"
    return "company"


def _tiers(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    churn = AT_RISK_TIERS if _AT_RISK.search(text) else ()
    if churn:
        return churn, ()
    if re.search(rf"\b(?:{CONTACT_WORDS})\b", text, re.IGNORECASE):
        for pattern, tiers in _LEAD_TIERS:
            if pattern.search(text):
                return (), tiers
    return (), ()


def _clean_topic(topic: str) -> str:
    topic = re.sub(r"^\s*(?:that|about|of|to|with|the objection that|:)\s+", "", topic.strip(), flags=re.IGNORECASE)
    return re.sub(r"\s+(?:recently|lately|this (?:year|quarter|month)|last (?:year|quarter|month))$", "",
                  topic.strip(" ,;:"), flags=re.IGNORECASE)


def plan_offline(records: QuestionRecords, stages: list[str] | None = None) -> Plan:
    """The tool plan for a question, from its wording alone (and the tenant's stage names for deals)."""
    q = " ".join(records.question.split())
    n = _NEXT_ACTION.match(q)
    if n:
        return Plan("next_action", target=n["target"].strip(" \"'“”"))
    if _BARE_LIST.match(q) and not _AGGREGATE.match(q):   # "hot leads that mentioned a competitor"
        q = f"Which {q}"
    if records.entity is not None and not _AGGREGATE.match(q):
        return Plan("single")
    m = _AGGREGATE.match(q)
    if m and not _clean_topic(m["topic"]) and _NEGATIVE.search(m["verb"]):   # "what are clients unhappy about?"
        churn, lead = _tiers(m["head"])
        return Plan("why", topic=q, negative=True, churn_tiers=churn, lead_tiers=lead,
                    customers_only=bool(_CUSTOMERS.search(m["head"])))
    if m and _clean_topic(m["topic"]):
        churn, lead = _tiers(m["head"])
        head_is_who = m["head"].strip() == "" and q.lower().startswith("who")
        return Plan("aggregate", subject=_subject(m["head"], lead, head_is_who), topic=_clean_topic(m["topic"]),
                    negative=bool(_NEGATIVE.search(m["verb"])), churn_tiers=churn, lead_tiers=lead,
                    count_only=q.lower().startswith("how many"), by_theme=bool(m["why"]),
                    customers_only=bool(_CUSTOMERS.search(m["head"])))
    w = _WHY.match(q)
    if w:
        churn, lead = _tiers(w["rest"])
        return Plan("why", topic=w["rest"].strip(), negative=bool(_NEGATIVE.search(w["rest"])) or bool(churn),
                    churn_tiers=churn, lead_tiers=lead, customers_only=bool(_CUSTOMERS.search(w["rest"])))
    d = _DEALS.search(q)
    if d and stages:
        stage = next((s for s in stages if s.lower() == d["stage"].strip().lower()), None)
        if stage:
            return Plan("records", listing="deals", stage=stage)
    if _CAMPAIGNS.search(q):
        return Plan("records", listing="campaigns")
    churn, lead = _tiers(q)
    if (churn or lead) and _LIST_RISK.match(q):
        return Plan("records", subject="company" if churn else "contact", listing="scores", churn_tiers=churn,
                    lead_tiers=lead, count_only=q.lower().startswith("how many"))
    return Plan("single")

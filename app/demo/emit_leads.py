"""What prospects do while they are leads: visits, forms, emails, calls, meetings; and the notes and
tasks the agency's reps write about them. Rates follow the contact's intent on that day and whether
its company has an open deal, so engagement rises before a conversion."""

from __future__ import annotations

import numpy as np

from app.demo import text, vocab
from app.demo.leads import S1, S3
from app.demo.world import Rows, World, new_ids, props


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def poisson_events(rng: np.random.Generator, rate: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, day) of every event of a Poisson process with daily `rate` where `mask` holds."""
    counts = rng.poisson(np.where(mask, rate, 0.0))
    r, d = np.nonzero(counts)
    k = counts[r, d]
    return np.repeat(r, k), np.repeat(d, k)


class FactLog:
    """Facts planted in text, to be written as ground truth with the id of the text that holds them."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.rows: list[tuple] = []

    def add(self, company: int, source_type: str, source_id: str, day: int, facts: list[tuple[str, str]]):
        name = self.w.co.name[company]
        when = (np.datetime64(self.w.start) + np.timedelta64(int(day), "D")).astype(str)
        for kind, value in facts:
            q = text.QUESTIONS[kind].format(company=name, date=when)
            self.rows.append((int(company), source_type, source_id, kind, value, q))


def _ctx(w: World, contact: int, day: int, mood: float) -> text.Ctx:
    co, ct = w.co, w.ct
    c = ct.company[contact]
    return text.Ctx(first=ct.first[contact], company=co.name[c], title=ct.title[contact], service=co.service[c],
                    competitor=co.competitor[c], budget=co.budget_text[c], objection=co.objection[c],
                    next_step=vocab.NEXT_STEPS[int(w.rng.integers(len(vocab.NEXT_STEPS)))], mood=float(mood),
                    rep=w.ag.rep_names[ct.owner[contact]])


def emit_leads(w: World, acts: Rows, notes: Rows, tasks: Rows, facts: FactLog) -> None:
    rng, ct, scale = w.rng, w.ct, w.activity_scale
    intent = w.contact_intent()
    mask = w.prospect_mask()
    fit = w.co.fit[ct.company][:, None]
    buyer = ct.is_buyer[:, None]
    chain = w.chain[ct.company]
    in_deal = buyer & (chain >= S1) & (chain <= S3)
    deal_of = np.where(in_deal, w.open_deal[ct.company], -1)

    # Website: more and deeper visits when intent is high; pricing and case studies near a decision.
    r, d = poisson_events(rng, np.exp(-4.5 + 0.9 * intent + 0.2 * fit) * (1 + 0.8 * in_deal) * scale, mask)
    hot = rng.random(len(r)) < sigmoid(-0.5 + 1.2 * intent[r, d])
    page = np.where(hot, rng.choice(vocab.WEB_PAGES_HIGH, len(r)), rng.choice(vocab.WEB_PAGES_LOW, len(r)))
    secs = np.round(rng.lognormal(np.log(50) + 0.4 * hot, 0.8)).astype(int)
    acts.add(id=new_ids(w, len(r)), type="web_visit", day=d, sec=rng.uniform(0, 86400, len(r)), contact=r,
             company=ct.company[r], deal=-1, subject=None, body=None, source="website",
             properties=props(("page", "seconds"), page, secs))

    r, d = poisson_events(rng, np.exp(-6.0 + 1.1 * intent) * scale, mask)
    hot = rng.random(len(r)) < sigmoid(-0.3 + 1.2 * intent[r, d])
    form = np.where(hot, rng.choice(["book-a-call", "free-audit-request", "contact-us"], len(r)),
                    rng.choice(["ebook-download", "newsletter-signup", "webinar-registration"], len(r)))
    acts.add(id=new_ids(w, len(r)), type="form_submit", day=d, sec=rng.uniform(0, 86400, len(r)), contact=r,
             company=ct.company[r], deal=-1, subject=np.char.add("Form: ", form.astype(str)), body=None,
             source="website", properties=props(("form",), form))

    _sales_emails(w, acts, facts, intent, mask, buyer, in_deal, deal_of)
    _conversations(w, acts, notes, tasks, facts, intent, mask, buyer, in_deal, deal_of)

    # Reps also jot down notes between conversations.
    r, d = poisson_events(rng, np.exp(-5.8 + 0.4 * intent) * buyer, mask)
    ids = new_ids(w, len(r))
    bodies = []
    for i, (c, day) in enumerate(zip(r, d, strict=True)):
        body, found = text.lead_text(rng, _ctx(w, c, day, intent[c, day]))
        bodies.append(body)
        facts.add(ct.company[c], "note", ids[i], day, found)
    notes.add(id=ids, day=d, sec=rng.uniform(9 * 3600, 19 * 3600, len(r)), contact=r, company=ct.company[r],
              deal=deal_of[r, d], author=ct.owner[r], body=np.array(bodies, dtype=object))


def _sales_emails(w, acts, facts, intent, mask, buyer, in_deal, deal_of) -> None:
    rng, ct = w.rng, w.ct
    rate = np.where(buyer, np.where(in_deal, 0.04, np.exp(-5.3 + 0.4 * intent)), np.exp(-6.5)) * w.activity_scale
    r, d = poisson_events(rng, rate, mask)
    n = len(r)
    sent_ids = new_ids(w, n)
    sec = rng.uniform(8 * 3600, 18 * 3600, n)
    subj, body = zip(*(text.sales_email(rng, _ctx(w, c, day, 0)) for c, day in zip(r, d, strict=True)),
                     strict=True) if n else ((), ())
    subj = np.array(subj, dtype=object)
    company, deal = ct.company[r], deal_of[r, d]
    acts.add(id=sent_ids, type="email_sent", day=d, sec=sec, contact=r, company=company, deal=deal, subject=subj,
             body=np.array(body, dtype=object), source="email", properties=props(("direction",), ["outbound"] * n))
    i = intent[r, d]
    opened = rng.random(n) < sigmoid(0.3 + 0.7 * i)
    open_sec = sec + rng.exponential(4 * 3600, n)
    o = np.flatnonzero(opened)
    acts.add(id=new_ids(w, len(o)), type="email_opened", day=d[o], sec=open_sec[o], contact=r[o], company=company[o],
             deal=deal[o], subject=subj[o], body=np.full(len(o), "Opened the email.", object), source="email",
             properties=props(("email_id",), sent_ids[o]))
    c = o[rng.random(len(o)) < 0.12]
    url = rng.choice(vocab.WEB_PAGES_HIGH, len(c))
    acts.add(id=new_ids(w, len(c)), type="email_clicked", day=d[c], sec=open_sec[c] + rng.exponential(90, len(c)),
             contact=r[c], company=company[c], deal=deal[c], subject=subj[c],
             body=np.char.add("Clicked ", url).astype(object), source="email",
             properties=props(("email_id", "url"), sent_ids[c], url))
    rep = o[rng.random(len(o)) < sigmoid(-1.4 + 0.9 * i[o] + 1.0 * in_deal[r[o], d[o]])]
    ids = new_ids(w, len(rep))
    reply_sec = open_sec[rep] + rng.exponential(3 * 3600, len(rep))  # may fall on the next day
    bodies = []
    for k, e in enumerate(rep):
        b, found = text.reply_email(rng, _ctx(w, r[e], d[e], i[e]))
        bodies.append(b)
        facts.add(company[e], "activity", ids[k], d[e] + int(reply_sec[k] // 86400), found)
    acts.add(id=ids, type="email_replied", day=d[rep], sec=reply_sec,
             contact=r[rep], company=company[rep], deal=deal[rep], subject=np.char.add("Re: ", subj[rep].astype(str)),
             body=np.array(bodies, dtype=object), source="email", properties=props(("email_id",), sent_ids[rep]))


def _conversations(w, acts, notes, tasks, facts, intent, mask, buyer, in_deal, deal_of) -> None:
    """Calls and meetings; each may leave a note and a follow-up task for its owner."""
    rng, ct, scale = w.rng, w.ct, w.activity_scale
    kinds = (
        ("call", np.where(buyer, np.where(in_deal, 0.02, np.exp(-5.6 + 0.7 * intent)), np.exp(-7.0)), 0.25, 0.35),
        ("meeting", np.where(buyer, np.where(in_deal, 0.012, np.exp(-7.1 + 0.9 * intent)), np.exp(-7.5)), 0.5, 0.6),
    )
    for kind, rate, p_note, p_task in kinds:
        r, d = poisson_events(rng, rate * scale, mask)
        n = len(r)
        ids = new_ids(w, n)
        sec = rng.uniform(9 * 3600, 17 * 3600, n)
        bodies, subjects, step = [], [], []
        for k, (c, day) in enumerate(zip(r, d, strict=True)):
            ctx = _ctx(w, c, day, intent[c, day])
            b, found = text.lead_text(rng, ctx, fact_rate=0.6 if kind == "meeting" else 0.4)
            bodies.append(b)
            step.append(ctx.next_step)
            subjects.append(f"Call with {ctx.first}" if kind == "call"
                            else f"Meeting: {ctx.service} with {ctx.company}")
            facts.add(ct.company[c], "activity", ids[k], day, found)
        minutes = np.round(rng.lognormal(np.log(15 if kind == "call" else 40), 0.4, n)).astype(int)
        places = ["outbound", "inbound"] if kind == "call" else ["Zoom", "Google Meet", "On site", "Teams"]
        where = rng.choice(places, n)
        acts.add(id=ids, type=kind, day=d, sec=sec, contact=r, company=ct.company[r], deal=deal_of[r, d],
                 subject=np.array(subjects, dtype=object), body=np.array(bodies, dtype=object),
                 source="phone" if kind == "call" else "calendar",
                 properties=props(("duration_min", "direction" if kind == "call" else "location"), minutes, where))
        wn = np.flatnonzero(rng.random(n) < p_note)
        note_ids = new_ids(w, len(wn))
        note_body = []
        for k, e in enumerate(wn):
            b, found = text.lead_text(rng, _ctx(w, r[e], d[e], intent[r[e], d[e]]))
            note_body.append(b)
            facts.add(ct.company[r[e]], "note", note_ids[k], d[e], found)
        notes.add(id=note_ids, day=d[wn], sec=sec[wn] + 3600, contact=r[wn], company=ct.company[r[wn]],
                  deal=deal_of[r[wn], d[wn]], author=ct.owner[r[wn]], body=np.array(note_body, dtype=object))
        wt = np.flatnonzero(rng.random(n) < p_task)
        tasks.add(id=new_ids(w, len(wt)), day=d[wt], sec=sec[wt] + 1800, due=d[wt] + rng.integers(2, 10, len(wt)),
                  title=np.array([f"Follow up with {ct.first[r[e]]}: {step[e]}" for e in wt], dtype=object),
                  description=np.array([f"After the {kind} with {w.co.name[ct.company[r[e]]]}." for e in wt],
                                       dtype=object),
                  contact=r[wt], company=ct.company[r[wt]], deal=deal_of[r[wt], d[wt]], assignee=ct.owner[r[wt]])

"""What customers do, driven by their health curve: orders that thin out, support tickets and negative
notes that rise before churn; and the agency's email campaigns with their opens and clicks."""

from __future__ import annotations

import numpy as np

from app.demo import text, vocab
from app.demo.agency import EMAIL_CHANNELS
from app.demo.emit_leads import FactLog, poisson_events, sigmoid
from app.demo.world import Rows, World, new_ids, props


def _ctx(w: World, contact: int, mood: float) -> text.Ctx:
    c = w.ct.company[contact]
    return text.Ctx(first=w.ct.first[contact], company=w.co.name[c], title=w.ct.title[contact],
                    service=w.co.service[c], competitor=w.co.competitor[c], budget=w.co.budget_text[c],
                    objection=w.co.objection[c], next_step=vocab.NEXT_STEPS[int(w.rng.integers(len(vocab.NEXT_STEPS)))],
                    mood=float(mood), rep=w.ag.rep_names[w.ct.owner[contact]])


def _contact_for(w: World, company: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The buyer most of the time, otherwise a colleague who already exists that day."""
    pick = w.buyer[company].copy()
    others = w.rng.integers(0, len(w.ct.company), len(company))
    ok = (w.ct.company[others] == company) & (w.ct.created_day[others] <= day)
    swap = ok & (w.rng.random(len(company)) < 0.3)
    pick[swap] = others[swap]
    return pick


def emit_accounts(w: World, acts: Rows, notes: Rows, facts: FactLog) -> None:
    rng, acc, scale = w.rng, w.acc, w.activity_scale
    t = np.arange(w.days)[None, :]
    alive = (t >= np.maximum(acc.since, 0)[:, None]) & (t < acc.churn_day[:, None])
    health = acc.health[:, : w.days]

    r, d = np.nonzero(acc.orders)
    r, d = np.repeat(r, acc.orders[r, d]), np.repeat(d, acc.orders[r, d])
    comp = acc.company[r]
    amount = np.round(w.co.monthly_value[comp] * rng.uniform(0.3, 1.2, len(r)), 2)
    service = w.co.service[comp]
    number = [f"SO-{x:06d}" for x in rng.integers(0, 999_999, len(r))]
    acts.add(id=new_ids(w, len(r)), type="order", day=d, sec=rng.uniform(7 * 3600, 20 * 3600, len(r)),
             contact=w.buyer[comp], company=comp, deal=-1, subject=np.char.add("Order: ", service.astype(str)),
             body=None, source="billing", amount=amount, currency="USD",
             properties=props(("order_number", "amount", "currency", "service"), number, amount,
                              ["USD"] * len(r), service))

    r, d = poisson_events(rng, np.exp(-4.8 - 0.9 * health), alive)
    comp = acc.company[r]
    who = _contact_for(w, comp, d)
    out = [text.ticket(rng, _ctx(w, c, health[row, day])) for c, row, day in zip(who, r, d, strict=True)]
    acts.add(id=new_ids(w, len(r)), type="support_ticket", day=d, sec=rng.uniform(0, 86400, len(r)), contact=who,
             company=comp, deal=-1, subject=np.array([o[0] for o in out], dtype=object),
             body=np.array([o[1] for o in out], dtype=object), source="helpdesk",
             properties=props(("priority",), [o[2] for o in out]))

    r, d = poisson_events(rng, np.exp(-3.8 + 0.5 * health) * scale, alive)
    page = rng.choice(vocab.WEB_PAGES_CUSTOMER, len(r))
    acts.add(id=new_ids(w, len(r)), type="web_visit", day=d, sec=rng.uniform(0, 86400, len(r)),
             contact=_contact_for(w, acc.company[r], d), company=acc.company[r], deal=-1, subject=None, body=None,
             source="website", properties=props(("page", "seconds"), page, rng.integers(10, 400, len(r))))

    _account_conversations(w, acts, notes, facts, alive, health)


def _account_conversations(w: World, acts: Rows, notes: Rows, facts: FactLog, alive, health) -> None:
    rng, acc, scale = w.rng, w.acc, w.activity_scale
    # Account-manager emails: opened and answered less as health falls.
    r, d = poisson_events(rng, np.full(health.shape, scale / 40), alive)
    comp = acc.company[r]
    who = _contact_for(w, comp, d)
    n = len(r)
    subj = np.array([text._pick(rng, text.ACCOUNT_EMAIL_SUBJECTS).format(service=w.co.service[c], company=w.co.name[c])
                     for c in comp], dtype=object)
    sent = new_ids(w, n)
    sec = rng.uniform(8 * 3600, 18 * 3600, n)
    body = np.array([f"Hi {w.ct.first[c]}, here is this month's summary for {w.co.service[k]}. "
                     f"Let me know if you want to go through it together." for c, k in zip(who, comp, strict=True)],
                    dtype=object)
    acts.add(id=sent, type="email_sent", day=d, sec=sec, contact=who, company=comp, deal=-1, subject=subj, body=body,
             source="email", properties=props(("direction",), ["outbound"] * n))
    h = health[r, d]
    o = np.flatnonzero(rng.random(n) < sigmoid(0.6 + 0.8 * h))
    open_sec = sec + rng.exponential(5 * 3600, n)
    acts.add(id=new_ids(w, len(o)), type="email_opened", day=d[o], sec=open_sec[o], contact=who[o], company=comp[o],
             deal=-1, subject=subj[o], body=np.full(len(o), "Opened the email.", object), source="email",
             properties=props(("email_id",), sent[o]))
    rep = o[rng.random(len(o)) < sigmoid(-1.2 + 0.5 * h[o])]
    ids = new_ids(w, len(rep))
    reply_sec = open_sec[rep] + rng.exponential(3 * 3600, len(rep))  # may fall on the next day
    bodies = []
    for k, e in enumerate(rep):
        b, found = text.account_text(rng, _ctx(w, who[e], h[e]))
        bodies.append(b)
        facts.add(comp[e], "activity", ids[k], d[e] + int(reply_sec[k] // 86400), found)
    acts.add(id=ids, type="email_replied", day=d[rep], sec=reply_sec,
             contact=who[rep], company=comp[rep], deal=-1, subject=np.char.add("Re: ", subj[rep].astype(str)),
             body=np.array(bodies, dtype=object), source="email", properties=props(("email_id",), sent[rep]))

    for kind, rate in (("meeting", np.exp(-4.5 + 0.3 * health)), ("call", np.full(health.shape, np.exp(-4.5)))):
        r, d = poisson_events(rng, rate * scale, alive)
        comp = acc.company[r]
        who = _contact_for(w, comp, d)
        ids = new_ids(w, len(r))
        bodies = []
        for k, (c, row, day) in enumerate(zip(who, r, d, strict=True)):
            b, found = text.account_text(rng, _ctx(w, c, health[row, day]))
            bodies.append(b)
            facts.add(w.ct.company[c], "activity", ids[k], day, found)
        subject = ([f"Monthly review with {w.co.name[c]}" for c in comp] if kind == "meeting"
                   else [f"Call with {w.ct.first[c]}" for c in who])
        minutes = np.round(rng.lognormal(np.log(30 if kind == "meeting" else 12), 0.4, len(r))).astype(int)
        acts.add(id=ids, type=kind, day=d, sec=rng.uniform(9 * 3600, 17 * 3600, len(r)), contact=who, company=comp,
                 deal=-1, subject=np.array(subject, dtype=object), body=np.array(bodies, dtype=object),
                 source="calendar" if kind == "meeting" else "phone",
                 properties=props(("duration_min",), minutes))

    # Notes: more of them, and darker, when an account is in trouble.
    r, d = poisson_events(rng, np.exp(-4.2 - 0.4 * health), alive)
    comp = acc.company[r]
    who = _contact_for(w, comp, d)
    ids = new_ids(w, len(r))
    bodies = []
    for k, (c, row, day) in enumerate(zip(who, r, d, strict=True)):
        b, found = text.account_text(rng, _ctx(w, c, health[row, day]))
        bodies.append(b)
        facts.add(w.ct.company[c], "note", ids[k], day, found)
    notes.add(id=ids, day=d, sec=rng.uniform(9 * 3600, 19 * 3600, len(r)), contact=who, company=comp, deal=-1,
              author=w.ct.owner[who], body=np.array(bodies, dtype=object))

    if w.ag.churn_mode == "contractual":  # the notice itself is on the churn day
        gone = np.flatnonzero(acc.churn_day < w.days)
        comp = acc.company[gone]
        notes.add(id=new_ids(w, len(gone)), day=acc.churn_day[gone], sec=np.full(len(gone), 15 * 3600.0),
                  contact=w.buyer[comp], company=comp, deal=-1, author=w.co.owner[comp],
                  body=np.array([f"{w.co.name[c]} gave notice and is ending the retainer. Reason given: "
                                 f"{text._pick(rng, vocab.COMPLAINTS)}." for c in comp], dtype=object))


def emit_campaigns(w: World, acts: Rows, members: Rows) -> None:
    """Campaign members (acquired through it, or on its mailing list) and the emails sent to them."""
    rng, ag, ct = w.rng, w.ag, w.ct
    intent = w.contact_intent()
    mem_c, mem_k, mem_day = [ct.campaign[ct.campaign >= 0]], [np.flatnonzero(ct.campaign >= 0)], []
    mem_day.append(ct.created_day[mem_k[0]])
    for k in np.flatnonzero(np.isin(ag.campaign_channel, EMAIL_CHANNELS)):
        cand = np.flatnonzero((ct.created_day <= ag.campaign_end[k]) & (ct.campaign != k))
        pick = cand[rng.random(len(cand)) < 0.25]
        mem_c.append(np.full(len(pick), k))
        mem_k.append(pick)
        mem_day.append(np.maximum(ct.created_day[pick], ag.campaign_start[k] - 7))
    campaign, contact, added = np.concatenate(mem_c), np.concatenate(mem_k), np.concatenate(mem_day)
    responded = np.zeros(len(campaign), dtype=bool)
    churn = w.churn_day_of(ct.company)
    for k in np.flatnonzero(np.isin(ag.campaign_channel, EMAIL_CHANNELS)):
        sends = np.arange(max(ag.campaign_start[k], 0), min(ag.campaign_end[k], w.days - 1) + 1,
                          int(rng.integers(7, 15)))
        m = np.flatnonzero(campaign == k)
        for j, day in enumerate(sends):
            to = m[(added[m] <= day) & (churn[contact[m]] > day)]
            if not len(to):
                continue
            c = contact[to]
            subj, body = text.campaign_email(rng, ag.campaign_theme[k], j + 1)
            sec = np.full(len(c), 9 * 3600.0 + rng.uniform(0, 3600))
            sent = new_ids(w, len(c))
            base = dict(company=ct.company[c], deal=-1, campaign=k, subject=np.full(len(c), subj, object),
                        source="email")
            acts.add(id=sent, type="email_sent", day=np.full(len(c), day), sec=sec, contact=c,
                     body=np.char.add(np.char.add("Hi ", ct.first[c]), ", " + body).astype(object),
                     properties=props(("campaign_send",), [j + 1] * len(c)), **base)
            i = intent[c, day]
            o = rng.random(len(c)) < sigmoid(-0.9 + 0.7 * i + 0.2 * w.co.fit[ct.company[c]])
            osec = sec + rng.exponential(6 * 3600, len(c))
            ob = {k2: v[o] if isinstance(v, np.ndarray) else v for k2, v in base.items()}
            acts.add(id=new_ids(w, int(o.sum())), type="email_opened", day=np.full(int(o.sum()), day), sec=osec[o],
                     contact=c[o], body=np.full(int(o.sum()), "Opened the email.", object),
                     properties=props(("email_id",), sent[o]), **ob)
            cl = o & (rng.random(len(c)) < sigmoid(-1.7 + 0.8 * i))
            url = rng.choice(vocab.WEB_PAGES_HIGH + vocab.WEB_PAGES_LOW, int(cl.sum()))
            cb = {k2: v[cl] if isinstance(v, np.ndarray) else v for k2, v in base.items()}
            acts.add(id=new_ids(w, int(cl.sum())), type="email_clicked", day=np.full(int(cl.sum()), day),
                     sec=osec[cl] + rng.exponential(90, int(cl.sum())), contact=c[cl],
                     body=np.char.add("Clicked ", url).astype(object),
                     properties=props(("email_id", "url"), sent[cl], url), **cb)
            responded[to[cl]] = True
    acq = np.arange(len(campaign)) < len(mem_k[0])
    status = np.where(acq | responded, "responded", "member")
    members.add(id=new_ids(w, len(campaign)), campaign=campaign, contact=contact, day=added, status=status)

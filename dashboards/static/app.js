// Intelligence CRM dashboard: small, dependency-free behaviour on top of server-rendered pages.
// Writes go through the same REST API as integrations (/api/v1), authenticated by the session cookie
// and the CSRF token from <meta name="csrf-token">.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body) {
  const res = await fetch(url, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf()},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return {ok: res.ok, status: res.status, data};
}

function toast(message, bad) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  el.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(el._t);
  el._t = setTimeout(() => { el.className = "toast"; }, bad ? 6000 : 2500);
}

function money(v) {
  const a = Math.abs(v);
  for (const [lim, s] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (a >= lim) return "$" + (v / lim).toFixed(1).replace(/\.0$/, "") + s;
  }
  return "$" + Math.round(v).toLocaleString("en-US");
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

function problemText(r, what) {
  if (r.status === 404 || r.status === 405 || r.status === 501 || r.status === 503) {
    return `${what} is not available on this server yet (HTTP ${r.status}). It needs the insights service: ` +
      "install it and run the pipeline (crm pipeline run) to index notes and emails.";
  }
  return (r.data && (r.data.detail || r.data.title)) || `Something went wrong (HTTP ${r.status}). Try again.`;
}

// ---- pipeline board: drag a deal card (or use its "Move to" menu) to change its stage --------------
function initBoard(board) {
  let dragged = null;
  const column = (stageId) => board.querySelector(`.column[data-stage="${stageId}"]`);

  function retotal(col) {
    const cards = [...col.querySelectorAll(".deal")];
    const hidden = Number(col.dataset.hiddenCount || 0);
    col.querySelector("[data-count]").textContent = cards.length + hidden;
    const total = col.querySelector("[data-total]");
    const sum = cards.reduce((acc, c) => acc + Number(c.dataset.amount || 0), 0) + Number(col.dataset.hiddenValue || 0);
    total.textContent = money(sum);
    col.querySelector(".col-empty")?.remove();
    if (!cards.length) col.querySelector("[data-dropzone]").insertAdjacentHTML("beforeend", '<div class="col-empty muted small">No deals</div>');
  }

  function refreshMenu(card, stageId) {
    const sel = card.querySelector("[data-move]");
    if (!sel) return;
    sel.innerHTML = '<option value="">Move to…</option>' + [...board.querySelectorAll(".column")]
      .filter((c) => c.dataset.stage !== stageId)
      .map((c) => `<option value="${c.dataset.stage}">${esc(c.dataset.stageName)}</option>`).join("");
  }

  async function move(card, stageId) {
    const from = card.closest(".column");
    const to = column(stageId);
    if (!to || from === to) return;
    const anchor = card.nextSibling;
    to.querySelector("[data-dropzone]").prepend(card);
    retotal(from); retotal(to);
    card.classList.add("saving");
    const r = await api("PATCH", `/api/v1/deals/${card.dataset.deal}`, {stage_id: stageId});
    card.classList.remove("saving");
    if (!r.ok) {
      from.querySelector("[data-dropzone]").insertBefore(card, anchor && anchor.parentNode ? anchor : null);
      retotal(from); retotal(to);
      toast("Could not move the deal: " + problemText(r, "Moving deals"), true);
      return;
    }
    refreshMenu(card, stageId);
    const status = r.data.status;
    card.querySelector(".deal-foot").textContent = status === "open"
      ? (r.data.expected_close_date ? "closes " + r.data.expected_close_date : "no close date") : status + " today";
    card.dataset.stageId = stageId;
    toast(`Moved “${card.querySelector(".deal-name").textContent}” to ${to.dataset.stageName}`);
  }

  // the "Move to" menus are filled here rather than in the HTML: the same few stages on every card
  board.querySelectorAll(".deal").forEach((card) => refreshMenu(card, card.closest(".column").dataset.stage));
  board.querySelectorAll(".column").forEach((col) => {
    // deals beyond the cards shown still count in the column's totals
    const shown = [...col.querySelectorAll(".deal")];
    const count = Number(col.querySelector("[data-count]").textContent);
    const value = Number(col.querySelector("[data-total]").dataset.value || 0);
    col.dataset.hiddenCount = count - shown.length;
    col.dataset.hiddenValue = value - shown.reduce((a, c) => a + Number(c.dataset.amount || 0), 0);
    const zone = col.querySelector("[data-dropzone]");
    zone.addEventListener("dragover", (e) => { if (dragged) { e.preventDefault(); zone.classList.add("over"); } });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (dragged) move(dragged, col.dataset.stage);
    });
  });
  board.addEventListener("dragstart", (e) => {
    const card = e.target.closest?.(".deal");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  board.addEventListener("dragend", () => { dragged?.classList.remove("dragging"); dragged = null; });
  board.addEventListener("change", (e) => {
    const sel = e.target.closest("[data-move]");
    if (sel && sel.value) move(sel.closest(".deal"), sel.value);
  });
}

// ---- assistant: questions (POST /api/v1/insights) and follow-up email drafts ------------------------
function loading(out, text) {
  out.hidden = false;
  out.className = "ai-out";
  out.innerHTML = `<div class="loading"><span class="spinner"></span>${esc(text)}</div>`;
}

function citationLink(c) {
  return `/sources/${encodeURIComponent(c.source_type)}/${encodeURIComponent(c.source_id)}`;
}

function renderAnswer(out, data) {
  const cites = data.citations || [];
  let answer = esc(data.answer || "");
  // [1], [2] markers in the answer become links to the cited note or email
  answer = answer.replace(/\[(\d+)\]/g, (m, n) => {
    const c = cites[Number(n) - 1];
    return c ? `<a class="cite-ref" href="${citationLink(c)}">[${n}]</a>` : m;
  });
  out.className = "ai-out";
  out.innerHTML = `<div class="answer" data-answer>${answer}</div>` + groupList(data, cites) + citationList(cites);
}

// Grouped answers (which / how many / why): every record linked to its page, with its citation numbers;
// a long group shows its first GROUP_PREVIEW records and the rest behind "show all".
const GROUP_PREVIEW = 12;

function groupList(data, cites) {
  const groups = data.groups || [];
  if (!groups.length) return "";
  const item = (i) => {
    const refs = (i.citations || []).map((n) => cites[n - 1] ?
      `<a class="cite-ref" href="${citationLink(cites[n - 1])}">[${n}]</a>` : "").join("");
    return `<li data-item="${esc(i.entity_id)}"><a href="${esc(i.url)}">${esc(i.name)}</a>` +
      (i.detail ? ` <span class="muted small">${esc(i.detail)}</span>` : "") + ` ${refs}</li>`;
  };
  return `<div class="answer-groups" data-groups>` + groups.map((g) => {
    const head = g.items.slice(0, GROUP_PREVIEW).map(item).join("");
    const rest = g.items.slice(GROUP_PREVIEW);
    const more = rest.length ? `<details><summary>show all ${esc(g.count)}</summary><ul>${rest.map(item).join("")}` +
      `</ul></details>` : "";
    return `<section class="answer-group" data-group="${esc(g.key)}"><h3>${esc(g.label)} ` +
      `<span class="count">${esc(g.count)}</span></h3><ul>${head}</ul>${more}</section>`;
  }).join("") + `</div>`;
}

function citationList(cites) {
  const list = (cites || []).map((c) => `<li><a href="${citationLink(c)}" data-citation>` +
    `${esc(c.source_type)} · ${esc((c.occurred_at || "").slice(0, 10))}</a> — ${esc(c.snippet || "")}</li>`).join("");
  return list ? `<ol class="citations">${list}</ol>` : '<p class="muted small">No sources were cited.</p>';
}

function initAssistant(box) {
  const contactId = box.dataset.contactId || null;
  const companyId = box.dataset.companyId || null;
  const form = box.querySelector("[data-ask]");
  const out = box.querySelector("[data-answer-out]");
  async function ask(question) {
    const button = form.querySelector("button");
    button.disabled = true;
    loading(out, "Reading your notes and emails…");
    const body = {question};
    if (contactId) body.contact_id = contactId;
    if (companyId) body.company_id = companyId;
    const r = await api("POST", "/api/v1/insights", body);
    button.disabled = false;
    if (!r.ok) { out.className = "ai-out error"; out.textContent = problemText(r, "Insights"); return; }
    renderAnswer(out, r.data);
  }
  form?.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = form.querySelector("input[name=question]").value.trim();
    if (q) ask(q);
  });
  box.querySelectorAll("[data-example]").forEach((b) => b.addEventListener("click", () => {
    form.querySelector("input[name=question]").value = b.textContent;
    ask(b.textContent);
  }));
  const initial = form?.querySelector("input[name=question]").value.trim();
  if (initial && !contactId && !companyId) ask(initial);

  const draft = box.querySelector("[data-draft-email]");
  const draftOut = box.querySelector("[data-draft-out]");
  draft?.addEventListener("click", async () => {
    draft.disabled = true;
    loading(draftOut, "Drafting from this contact's history…");
    const r = await api("POST", `/api/v1/contacts/${contactId}/email-draft`, {});
    draft.disabled = false;
    if (!r.ok) { draftOut.className = "ai-out error"; draftOut.textContent = problemText(r, "Email drafting"); return; }
    const d = r.data || {};
    const text = (d.subject ? `Subject: ${d.subject}\n\n` : "") + (d.body || d.draft || d.text || "");
    draftOut.className = "ai-out";
    draftOut.innerHTML = `<b>Draft</b> <span class="muted small">edit before sending</span>` +
      `<textarea data-draft-text>${esc(text)}</textarea>` +
      `<button class="button ghost" type="button" data-copy>Copy</button>` + citationList(d.citations);
    draftOut.querySelector("[data-copy]").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(draftOut.querySelector("textarea").value); toast("Copied"); }
      catch (e) { draftOut.querySelector("textarea").select(); }
    });
  });
}

// ---- score card: follows the live refresher after a write on this page ------------------------------
// A note or activity saved here reloads the page (a form post); the refresher scores the change within
// seconds. Until it has (the card says data-pending="1"), or for a minute after a write made from this page,
// the card is fetched again every 2 s and swapped in place, with the tier in the heading.
const LIVE_WINDOW_MS = 60000;
const LIVE_POLL_MS = 2000;

function initScoreCard(card) {
  const key = "crm-wrote:" + location.pathname;
  document.querySelectorAll('form[method="post"]').forEach((f) => f.addEventListener("submit", () => {
    try { sessionStorage.setItem(key, String(Date.now())); } catch (e) { /* storage off: poll on pending only */ }
  }));
  let wroteAt = 0;
  try { wroteAt = Number(sessionStorage.getItem(key) || 0); } catch (e) { wroteAt = 0; }
  const now = Date.now();
  const until = Math.max(wroteAt + LIVE_WINDOW_MS, card.dataset.pending === "1" ? now + LIVE_WINDOW_MS : 0);
  if (until <= now) return;
  const url = card.dataset.scoreCard;

  function stop() {
    try { sessionStorage.removeItem(key); } catch (e) { /* nothing to clear */ }
    document.querySelector("[data-score-card] [data-updating]")?.remove();
  }

  const again = () => { if (Date.now() + LIVE_POLL_MS > until) stop(); else setTimeout(poll, LIVE_POLL_MS); };

  async function poll() {
    let html;
    try {
      const res = await fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}, cache: "no-store"});
      if (!res.ok) { stop(); return; }
      html = await res.text();
    } catch (e) { again(); return; }  // a network blip: the next tick tries again
    const tmp = document.createElement("template");
    tmp.innerHTML = html.trim();
    const next = tmp.content.querySelector("[data-score-card]");
    if (!next) { stop(); return; }  // not a card (signed out: the login page)
    const current = document.querySelector("[data-score-card]");
    if (next.dataset.version !== current.dataset.version || next.dataset.pending !== current.dataset.pending) {
      current.replaceWith(next);
      const headTier = document.querySelector("[data-live-tier]");
      const tier = next.querySelector(".score-big .tier");
      if (headTier && tier) headTier.replaceChildren(tier.cloneNode(true));
    }
    if (next.dataset.pending === "0") stop(); else again();
  }
  setTimeout(poll, card.dataset.pending === "1" ? LIVE_POLL_MS : 0);
}

document.addEventListener("DOMContentLoaded", () => {
  // the Content-Security-Policy forbids inline handlers: controls that submit on change say so with data-autosubmit
  document.querySelectorAll("[data-autosubmit]").forEach((el) => el.addEventListener("change", () => el.form.submit()));
  document.querySelectorAll("[data-board]").forEach(initBoard);
  document.querySelectorAll("[data-assistant]").forEach(initAssistant);
  document.querySelectorAll("[data-score-card]").forEach(initScoreCard);
  // an activity logged from the page happened when it was sent, not when the page was rendered
  document.querySelectorAll("[data-quick-activity]").forEach((f) => f.addEventListener("submit", () => {
    f.querySelector('input[name="occurred_at"]').value = new Date().toISOString().slice(0, 19) + "Z";
  }));
});

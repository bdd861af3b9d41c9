"""Benchmark (an experiment, not a product feature): does a hidden-state estimate of buying intent, filtered from
each lead's sparse event stream, move the lead model towards the ground-truth bound?

For each agency, a two-state hidden Markov model (quiet / active) over daily counts of the events a lead answers
with (email opened, clicked, replied; web visit; form; meeting; call), each Poisson given the state, is fitted by
EM (Baum-Welch) on the training window only (days up to the split's last training month-end; at most 300
sequences drawn at random); the feature is the *filtered* P(active | events up to and including as_of), never the
smoothed one. Two streams: the lead's own events, and its company's (every contact of it), since intent is often
an account's. Observable events only, any agency's data; nothing from the generator. The lead model is retrained
on the same rows and split with and without the two columns, for each seed, and its ratio to the bound and ECE
printed (`bench/lead_information.py` is the same question with the generator's latent values instead).

Needs a CRM_HOME with a loaded demo and a built `marts.lead_features` (e.g. after `crm demo --no-serve`); the
warehouse can be another DuckDB file. Nothing is asserted: every figure is printed.

    .venv/bin/python bench/lead_intent.py --home .crm [--warehouse FILE] [--seeds 7,11]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy.special import gammaln  # noqa: E402

TYPES = ("email_opened", "email_clicked", "email_replied", "web_visit", "form_submit", "meeting", "call")


@dataclass
class IntentHmm:
    start: np.ndarray      # (2,) P(state) on a sequence's first day
    trans: np.ndarray      # (2, 2) P(next state | state)
    rates: np.ndarray      # (2, K) Poisson rate of each event type per state; state 1 is the active one

    def log_emission(self, counts: np.ndarray) -> np.ndarray:
        """(N, D, K) daily counts -> (N, D, 2) log p(counts | state)."""
        c = counts.astype(np.float64)
        out = np.stack([(c * np.log(self.rates[s])).sum(axis=2) - self.rates[s].sum() for s in (0, 1)], axis=2)
        return out - gammaln(c + 1.0).sum(axis=2)[..., None]

    def forward(self, counts: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled forward pass: filtered state probabilities (N, D, 2; 0 where not alive), the scale factors
        (N, D) and the scaled emission likelihoods (N, D, 2). `alive` marks each sequence's days (one run)."""
        b = np.exp(self.log_emission(counts) - self.log_emission(counts).max(axis=2, keepdims=True))
        n, d, _ = counts.shape
        alpha, scale = np.zeros((n, d, 2)), np.ones((n, d))
        prob, started = np.zeros((n, 2)), np.zeros(n, dtype=bool)
        for t in range(d):
            on = alive[:, t]
            a = np.where(started[:, None], prob @ self.trans, self.start[None, :]) * b[:, t]
            total = a.sum(axis=1)
            prob = np.where(on[:, None], a / total[:, None], prob)
            scale[:, t] = np.where(on, total, 1.0)
            alpha[:, t] = np.where(on[:, None], prob, 0.0)
            started |= on
        return alpha, scale, b

    def filtered(self, counts: np.ndarray, alive: np.ndarray) -> np.ndarray:
        """P(active | days up to and including d) per sequence and day (N, D); NaN where not alive."""
        alpha, _, _ = self.forward(counts, alive)
        return np.where(alive, alpha[..., 1], np.nan)


def fit_hmm(counts: np.ndarray, alive: np.ndarray, iterations: int = 10, sample: int = 300) -> IntentHmm:
    """Baum-Welch on at most `sample` sequences (drawn at random) of (N, D, K) daily counts."""
    keep = np.flatnonzero(alive.any(axis=1))
    if keep.size > sample:
        keep = np.sort(np.random.default_rng(0).choice(keep, sample, replace=False))
    counts, alive = counts[keep], alive[keep]
    n, d, _ = counts.shape
    mean = counts[alive].mean(axis=0) + 1e-4
    model = IntentHmm(np.array([0.8, 0.2]), np.array([[0.97, 0.03], [0.10, 0.90]]), np.vstack([mean / 2, mean * 3]))
    first = alive.argmax(axis=1)
    for _ in range(iterations):
        alpha, scale, b = model.forward(counts, alive)
        beta, pairs = np.ones((n, d, 2)), np.zeros((2, 2))
        for t in range(d - 2, -1, -1):
            both = alive[:, t] & alive[:, t + 1]
            ahead = b[:, t + 1] * beta[:, t + 1]
            beta[:, t] = np.where(both[:, None], (ahead @ model.trans.T) / scale[:, t + 1][:, None], 1.0)
            pairs += model.trans * ((alpha[:, t] * (both / scale[:, t + 1])[:, None]).T @ ahead)
        gamma = alpha * beta
        gamma /= np.maximum(gamma.sum(axis=2, keepdims=True), 1e-300)
        gamma[~alive] = 0.0
        start = gamma[np.arange(n), first].sum(axis=0)
        model = IntentHmm(np.clip(start / start.sum(), 1e-3, 1 - 1e-3), pairs / pairs.sum(axis=1, keepdims=True),
                          np.maximum(np.einsum("nds,ndk->sk", gamma, counts) / gamma.sum(axis=(0, 1))[:, None], 1e-5))
        if model.rates[0].sum() > model.rates[1].sum():   # keep state 1 the active one
            model = IntentHmm(model.start[::-1].copy(), model.trans[::-1, ::-1].copy(), model.rates[::-1].copy())
    return model


def intent_columns(frame: pl.DataFrame, fit_end, warehouse: Path | None) -> dict[str, np.ndarray]:
    """intent_lead_p_active and intent_company_p_active on each (contact, as_of_date) row of `frame`."""
    from crm.warehouse import query

    types = ", ".join(f"'{t}'" for t in TYPES)
    events = pl.from_arrow(query(
        "select cast(tenant_id as varchar) as tenant_id, cast(contact_id as varchar) as contact_id, "
        "cast(company_id as varchar) as company_id, activity_type, cast(occurred_at as date) as day, count(*) as n "
        f"from intermediate.int_activities_attributed where activity_type in ({types}) group by all", path=warehouse))
    contacts = pl.from_arrow(query(
        "select cast(tenant_id as varchar) as tenant_id, cast(contact_id as varchar) as contact_id, "
        "cast(company_id as varchar) as company_id, cast(created_at as date) as created "
        "from staging.stg_crm__contacts", path=warehouse))
    origin = min(events["day"].min(), contacts["created"].min())
    days = (max(events["day"].max(), frame["as_of_date"].max()) - origin).days + 1
    fit_days = (fit_end - origin).days + 1
    kinds = {t: i for i, t in enumerate(TYPES)}
    found: dict[tuple[str, str], dict[str, float]] = {}   # (level, tenant) -> key -> row index into p
    values: dict[tuple[str, str], np.ndarray] = {}
    for (tenant,), people in contacts.group_by("tenant_id"):
        mine = events.filter(pl.col("tenant_id") == tenant)
        companies = people.drop_nulls("company_id").group_by("company_id").agg(pl.col("created").min())
        for level, key, owners in (("lead", "contact_id", people), ("company", "company_id", companies)):
            keys = owners[key].to_list()
            if not keys:
                continue
            index = {k: i for i, k in enumerate(keys)}
            stream = mine.drop_nulls(key).filter(pl.col(key).is_in(keys))
            counts = np.zeros((len(keys), days, len(TYPES)), dtype=np.int16)
            np.add.at(counts, (np.array([index[k] for k in stream[key]], dtype=int),
                               np.array([(d - origin).days for d in stream["day"]], dtype=int),
                               np.array([kinds[t] for t in stream["activity_type"]], dtype=int)),
                      stream["n"].to_numpy())
            first = np.array([(d - origin).days for d in owners["created"]])
            alive = np.arange(days)[None, :] >= first[:, None]
            model = fit_hmm(counts[:, :fit_days], alive[:, :fit_days])
            found[(level, tenant)], values[(level, tenant)] = index, model.filtered(counts, alive)
    companies_of = dict(zip(contacts["contact_id"], contacts["company_id"], strict=True))
    out = {}
    day_of = [(d - origin).days for d in frame["as_of_date"]]
    for level in ("lead", "company"):
        column = np.full(frame.height, np.nan)
        for row, (tenant, contact, day) in enumerate(zip(frame["tenant_id"], frame["contact_id"], day_of,
                                                         strict=True)):
            key = contact if level == "lead" else companies_of.get(contact)
            index = found.get((level, tenant), {})
            if key in index:
                column[row] = values[(level, tenant)][index[key], day]
        out[f"intent_{level}_p_active"] = column
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("CRM_HOME", ".crm")))
    parser.add_argument("--warehouse", type=Path, default=None, help="another DuckDB file (default: the home's)")
    parser.add_argument("--seeds", default="7,11")
    args = parser.parse_args()
    os.environ["CRM_HOME"] = str(args.home.resolve())

    from models_ml.config import lead_config
    from models_ml.evaluate import compare_with_truth
    from models_ml.features import read_features
    from models_ml.split import time_split
    from models_ml.train import fit

    cfg = lead_config(warehouse_path=args.warehouse, truth_dir=args.home.resolve() / "ground_truth")
    frame = read_features(cfg, labelled_only=True)
    fit_end = time_split(frame, cfg).train["as_of_date"].max()
    started = time.perf_counter()
    intent = intent_columns(frame, fit_end, args.warehouse)
    print(f"{frame.height:,} labelled lead rows; HMMs fitted on days up to {fit_end} and filtered in "
          f"{time.perf_counter() - started:.0f} s; rows with a value: "
          + ", ".join(f"{name} {np.isfinite(v).mean():.0%}" for name, v in intent.items()) + "\n")
    print("| inputs | seed | ROC AUC | ratio to the bound | ECE |\n|---|---|---|---|---|")
    for label, rows in (("CRM features (baseline)", frame), ("+ filtered intent, lead and company",
                                                             frame.with_columns(**intent))):
        for seed in (int(s) for s in args.seeds.split(",")):
            run = cfg.model_copy(update={"seed": seed})
            result = fit(rows, run)
            truth = compare_with_truth(result.split.test, result.test_prob, run, result.baseline_prob)
            print(f"| {label} | {seed} | {result.test_metrics['roc_auc']:.4f} | {truth['auc_ratio_to_truth']:.4f} | "
                  f"{result.test_metrics['ece']:.4f} |", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark: how much of the lead model's gap to the ground-truth bound is missing information, not modelling.

The demo's truth probability knows each buyer's latent fit, budget and intent curve, today's and the next 90
days', and the lead chain's hidden state (e.g. cooling off after a lost deal). A model sees only what the CRM
recorded. This bench retrains the lead model on the same rows and split, once on the CRM's features (the
baseline) and once per latent quantity added as if it could be observed, and prints each AUC as a share of the
bound (`auc_ratio_to_truth`, the figure the README's model table reports):

    CRM features                          the production model's inputs
    + chain state                         lead / cooling off / deal stage (hidden states of the generator)
    + fit, budget                         the company's latent traits
    + intent today                        the buyer's latent intent on the as_of day
    + all of today's latent state         fit, budget, intent today, intent base, chain state, buyer
    + the next 90 days' mean intent       what nobody can know at as_of

Needs a CRM_HOME with a loaded demo (its `demo_credentials.json` names size, seed and end date, from which the
generator's worlds are rebuilt exactly) and a built `marts.lead_features` (e.g. after `crm demo --no-serve`).
Nothing is asserted: every figure is printed.

    .venv/bin/python bench/lead_information.py --home .crm
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402


def latent_columns(home: Path, frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """The generator's latent values on each (contact, as_of) row of `frame`; NaN before the simulated window."""
    from app.demo.agency import agency_names, make_agency
    from app.demo.generate import build_world, contacts_per_tenant, tenant_rng
    from app.demo.ids import history_window
    from app.demo.spec import SIZES

    demo = json.loads((home / "demo_credentials.json").read_text())
    spec, seed, end = SIZES[demo["size"]], int(demo["seed"]), date.fromisoformat(demo["end_date"])
    names = agency_names(np.random.default_rng([seed, 7919]), spec.tenants)
    sizes = contacts_per_tenant(seed, spec)
    where: dict[str, tuple] = {}
    for i, name in enumerate(names):
        rng = tenant_rng(seed, spec, i)
        start, days = history_window(end, spec.months)
        world = build_world(rng, make_agency(rng, name, i, spec.tag, seed, sizes[i], start, days, "unused"),
                            start, days, spec.activity_scale)
        for k, contact in enumerate(world.contact_ids):
            where[str(contact)] = (world, k, np.datetime64(start, "D"))
    n = frame.height
    out = {name: np.full(n, np.nan) for name in ("fit", "budget", "intent_now", "intent_base", "chain_state",
                                                 "buyer", "intent_next_90d")}
    contacts = frame["contact_id"].cast(pl.String).to_list()
    as_of = frame["as_of_date"].cast(pl.Date).to_numpy().astype("datetime64[D]")
    for row, (contact, day) in enumerate(zip(contacts, as_of, strict=True)):
        hit = where.get(contact)
        if hit is None:
            continue
        world, k, start = hit
        d = int((day - start).astype(int))
        if not 0 <= d < world.days:
            continue   # as_of before the simulated window (companies older than the history): no latent value
        company = world.ct.company[k]
        out["fit"][row], out["budget"][row] = world.co.fit[company], world.co.budget[company]
        out["intent_now"][row] = world.latent.intent[company, d]
        out["intent_base"][row] = world.co.intent_base[company]
        out["chain_state"][row] = world.chain[company, d]
        out["buyer"][row] = world.ct.is_buyer[k]
        out["intent_next_90d"][row] = world.latent.intent[company, d + 1: d + 91].mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("CRM_HOME", ".crm")))
    args = parser.parse_args()
    home = args.home.resolve()
    os.environ["CRM_HOME"] = str(home)

    from models_ml.config import lead_config
    from models_ml.evaluate import compare_with_truth
    from models_ml.features import read_features
    from models_ml.train import fit

    cfg = lead_config(truth_dir=home / "ground_truth")
    frame = read_features(cfg, labelled_only=True)
    started = time.perf_counter()
    latent = latent_columns(home, frame)
    print(f"{frame.height:,} labelled lead rows; latent values rebuilt in {time.perf_counter() - started:.0f} s "
          f"({np.isfinite(latent['fit']).mean():.0%} of rows inside the simulated window)\n")
    present = ("fit", "budget", "intent_now", "intent_base", "chain_state", "buyer")
    variants = [("CRM features (baseline)", ()), ("+ chain state", ("chain_state",)),
                ("+ fit, budget", ("fit", "budget")), ("+ intent today", ("intent_now",)),
                ("+ all of today's latent state", present),
                ("+ the next 90 days' mean intent", (*present, "intent_next_90d"))]
    print(f"| {'inputs':<34} | ROC AUC | truth AUC | ratio to the bound |")
    print(f"|{'-' * 36}|---------|-----------|--------------------|")
    for label, columns in variants:
        rows = frame.with_columns(**{f"latent_{c}": latent[c] for c in columns})
        result = fit(rows, cfg)
        truth = compare_with_truth(result.split.test, result.test_prob, cfg, result.baseline_prob)
        print(f"| {label:<34} | {truth['model_auc_on_truth_rows']:.4f}  | {truth['truth_auc']:.4f}    | "
              f"{truth['auc_ratio_to_truth']:.4f}             |", flush=True)


if __name__ == "__main__":
    main()

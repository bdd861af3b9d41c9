"""Benchmark: contractual churn's fallback (the tenure life table) beside the learned churn model, same rows.

In a fresh CRM_HOME (own embedded PostgreSQL and warehouse): load the demo -> run the pipeline -> take the
churn model's test window (the newest labelled month-ends of marts.account_features, as models_ml.split chooses
them) on the contractual agencies (the question: the contract ends within the 90 days after as_of), and score
those rows two ways:
  (a) learned: the registered `churn_risk` champion, through its own bundle and calibration;
  (b) the tenure life table (crm.tenure_survival), fitted per agency and month-end on its customers' contracts as
      known then (models_ml.survival_fit: ended contracts before as_of are churns, the rest censored there),
      serving P(the contract ends within 90 days | tenure), as the per-agency choice fits it.
With demo data the generator's own probabilities are printed as the bound. Per agency, both ROC AUCs as the
choice compares them. Nothing is asserted: every figure is printed.

    .venv/bin/python bench/contractual_fallback.py [--size small|medium] [--home DIR] [--keep] [--reuse]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from bench_io import demo_bench_main
from churn_baselines import learned_churn, load_and_run, report, truth_probability


def contractual_rows():
    from models_ml.config import churn_config
    from models_ml.features import read_features
    from models_ml.split import time_split

    cfg = churn_config()
    split = time_split(read_features(cfg, labelled_only=True), cfg)
    print(f"  churn split: {getattr(split, 'name', '') or 'configured'}", flush=True)
    return split.test.filter(pl.col("churn_mode") == "contractual"), cfg


def life_table_churn(test: pl.DataFrame) -> np.ndarray:
    """P(contract ends within 90 days) per row, from its agency's table fitted on what was known at its as_of."""
    from crm.db.engine import tenant_session
    from crm.tenure_survival import tenure_of
    from models_ml.survival_fit import fit_survival, month_end_instant, read_tenures

    out = np.full(test.height, np.nan)
    indexed = test.with_row_index("_i")
    for (tenant_id,), agency in indexed.group_by("tenant_id"):
        with tenant_session(str(tenant_id)) as s:
            tenures = read_tenures(s)
        for (day,), part in agency.group_by("as_of_date"):
            table = fit_survival(tenures, month_end_instant(day))
            out[part["_i"].to_numpy()] = table.p_churn(tenure_of(part))
            print(f"  {str(tenant_id)[:8]} {day}: {table.fitted_on}, {table.customers} customers, "
                  f"{table.churns} ended contracts", flush=True)
    return out


def per_agency(test: pl.DataFrame, scores: dict[str, np.ndarray], label: str) -> None:
    from sklearn.metrics import roc_auc_score

    print(f"\n{'agency':10}{'rows':>6}{'churned':>9}" + "".join(f"{name[:22]:>24}" for name in scores))
    for (tenant_id,), part in test.with_row_index("_i").group_by("tenant_id", maintain_order=True):
        y, idx = part[label].cast(pl.Int8).to_numpy(), part["_i"].to_numpy()
        aucs = [f"{roc_auc_score(y, s[idx]):24.4f}" if 0 < y.sum() < len(y) else f"{'-':>24}"
                for s in scores.values()]
        print(f"{str(tenant_id)[:8]:10}{len(y):>6}{int(y.sum()):>9}" + "".join(aucs))


def run(size: str, home: Path, reuse: bool) -> None:
    print(f"contractual fallback bench, {size} demo, CRM_HOME={home}", flush=True)
    if not reuse:
        load_and_run(size, home)
    test, cfg = contractual_rows()
    if test.height == 0:
        raise SystemExit("no contractual agency has labelled rows in the test window")
    table = life_table_churn(test)
    learned, model_name = learned_churn(test, cfg)
    truth = truth_probability(test, cfg)
    y = test[cfg.label].cast(pl.Int8).to_numpy()
    print(f"\ncontractual agencies: {test['tenant_id'].n_unique()}; test month-ends: "
          f"{', '.join(str(d) for d in sorted(test['as_of_date'].unique()))}; rows: {test.height}; "
          f"contracts ending within 90 days: {int(y.sum())} ({y.mean():.1%})")
    scores: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    if learned is not None:
        scores[f"learned ({model_name})"] = (learned, learned)
    scores["tenure life table P(end in 90 d)"] = (table, table)
    if truth is not None and np.isfinite(truth).any():
        scores["generator's probabilities (its rows)"] = (np.where(np.isfinite(truth), truth, np.nan), truth)
    report(test, scores, cfg.label)
    per_agency(test, {name: rank for name, (rank, _) in scores.items()}, cfg.label)


def main() -> None:
    demo_bench_main(__doc__.splitlines()[0], "crm-bench-contractual", run)

if __name__ == "__main__":
    main()

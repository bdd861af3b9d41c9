"""The model card: a markdown page a reviewer reads before trusting the score."""

from __future__ import annotations

from models_ml.config import TrainConfig
from models_ml.train import FitResult


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def model_card(cfg: TrainConfig, result: FitResult, by_size: list[dict], truth: dict | None) -> str:
    lin = result.split.lineage(cfg.label)
    m, b = result.test_metrics, result.baseline_metrics
    purpose = ("probability that a lead converts (becomes a customer or wins a deal) within"
               if cfg.entity_type == "lead" else "probability that a customer account churns within")
    lines = [
        f"# Model card: {cfg.model_name}",
        "",
        f"**What it predicts.** The {purpose} {cfg.horizon_days} days of the snapshot date. "
        "Score = calibrated probability x 100; tiers A-D by the thresholds below.",
        "",
        "## Data",
        f"- Source: mart `{cfg.table}` (one row per tenant, {cfg.entity_key} and month-end `as_of_date`).",
        f"- Train: {lin['train_rows']} rows ({lin['train_positives']} positive), as_of {lin['train_as_of_min']} "
        f"to {lin['train_as_of_max']}; validation: {lin['val_rows']} rows, {lin['val_as_of_min']} to "
        f"{lin['val_as_of_max']}; test: {lin['test_rows']} rows ({lin['test_positives']} positive), "
        f"{lin['test_as_of_min']} to {lin['test_as_of_max']}.",
        f"- Split by time (**{lin['split']}**: {lin['test_periods']} test and {lin['val_periods']} validation "
        f"month-ends, {lin['train_periods']} for training) with a {cfg.purge}-day purge between windows, so no "
        "training label was observed inside the validation or test window"
        + ("." if lin["split"] == f"{cfg.test_periods}+{cfg.val_periods} purged" else
           f"; the configured {cfg.test_periods}+{cfg.val_periods} did not fit the history there is."),
        f"- {len(result.bundle.features)} features ({len(result.bundle.categorical)} categorical): "
        + ", ".join(f"`{f}`" for f in result.bundle.features),
        "",
        "## Training",
        f"- LightGBM, early stopping on validation log-loss: {result.best_iteration} trees.",
        f"- Class imbalance: `{cfg.class_weight}` weighting; calibration: "
        f"`{result.calibration_report['calibration']}` (validation ECE before correction "
        f"{result.calibration_report['ece_raw_val']:.4f}).",
        "- Tier thresholds (lowest score): " + ", ".join(f"{k} >= {v}" for k, v in result.bundle.tiers.items())
        + ", D below.",
        "",
        "## Test metrics",
        "| metric | LightGBM | logistic baseline |",
        "|---|---|---|",
        *[f"| {k} | {_fmt(m[k])} | {_fmt(b[k])} |" for k in ("roc_auc", "pr_auc", "brier", "ece",
                                                            "precision_top_decile", "lift_top_decile")],
        f"| ece before calibration | {_fmt(m['ece_uncalibrated'])} | |",
        "",
        "## By tenant size (test window)",
        "| tenant size | tenants | rows | positives | ROC AUC | PR AUC | Brier | ECE |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['bucket']} | {r['tenants']} | {r['rows']} | {r['positives']} | {_fmt(r['roc_auc'])} | "
          f"{_fmt(r['pr_auc'])} | {_fmt(r['brier'])} | {_fmt(r['ece'])} |" for r in by_size],
    ]
    if truth:
        lines += ["", "## Against the ground truth (demo data)",
                  f"- Test-window ROC AUC {truth['model_auc_on_truth_rows']:.4f} vs {truth['truth_auc']:.4f} for the "
                  f"generator's true probabilities on the same {int(truth['truth_rows'])} rows: ratio "
                  f"**{truth['auc_ratio_to_truth']:.3f}** of the best achievable."]
    lines += ["", "## Limits",
              "- Trained on the agencies in this installation; a new agency's first months are scored by a model "
              "that has not seen its customers.",
              "- Scores are refreshed by the pipeline; features are as of the latest month-end snapshot.",
              "- Factors explain the model, not the world: they say what moved this score, not what causes "
              "conversion or churn."]
    return "\n".join(lines) + "\n"

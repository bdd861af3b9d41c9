"""Per agency: does the pooled learned champion score its data, or a transparent fallback fitted on its own?

For each agency and entity type (run by the pipeline's `scoring_choice` asset, after training):
1. Fit the fallback on the agency's own data: for accounts in activity (purchase) churn mode, BG/NBD on every
   current customer's order history as of now; for accounts in contractual mode, the tenure life table
   (crm.tenure_survival) of every customer it has had, the ended contracts as churns and the others censored
   (its stated prior when it has too few); for leads, the engagement model on the agency's labelled month-end
   rows (its documented prior when it has too few).
2. Compare on the agency's own newest labelled month-ends (up to `EVAL_PERIODS`), the same rows for both: the
   champion's ROC AUC against the fallback's, the fallback fitted only on what it could have known (BG/NBD on
   that month-end's histories, the life table on the contracts known to have ended by then, the engagement
   model on rows whose label horizon ended before it).
3. Choose the learned model only when it exists, the agency's rows can check it (both outcomes, `MIN_ROWS`)
   and it ranks them at least as well; otherwise the fallback, with the reason.
The choice, the fallback's parameters (also kept when the learned model wins: BG/NBD gives expected orders for
the account page) and the comparison are recorded in `tenant_models` (crm.tenant_models) under the agency's RLS.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score
from sqlalchemy import text

from crm import tenant_models
from crm.btyd import HORIZON_DAYS, BgNbd, histories_of
from crm.db.engine import tenant_session
from crm.engagement_model import EngagementModel
from crm.live_features import FeatureQueries, compute
from crm.model_bundle import ModelBundle
from crm.tenancy import all_tenant_ids
from crm.tenant_models import ModelChoice
from crm.tenure_survival import MIN_CHURNS, MIN_CUSTOMERS, PRIOR_YEARLY_CHURN, tenure_of
from models_ml.config import TrainConfig, churn_config, lead_config
from models_ml.engagement import fit_engagement
from models_ml.features import read_features, with_fitted_features
from models_ml.survival_fit import fit_survival, month_end_instant, read_tenures, survival_params
from models_ml.train import tier_thresholds

log = logging.getLogger(__name__)
_CHURN_MODE = text("select churn_mode from tenants where id = app_tenant_id()")
EVAL_PERIODS = 2
MIN_ROWS = 30
TIER_SHARES = (0.10, 0.20, 0.30)
NAMES = {"bg_nbd": "BG/NBD", "survival": "the tenure life table",
         "engagement": "the engagement model"}   # in the reasons people read


@dataclass
class Learned:
    """The champion as training sees it: predicts calibrated probabilities on mart rows."""

    version: str
    booster: Any
    bundle: ModelBundle

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        """On month-end mart rows: the fitted features at each month-end, as in training."""
        x = self.bundle.encode(with_fitted_features(rows, self.bundle.entity_type))
        return self.bundle.calibrate(self.booster.predict(x, raw_score=True))


@dataclass
class ChoiceRun:
    entity_type: str
    tenants: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    choices: dict[str, ModelChoice] = field(default_factory=dict)


def _bg_nbd_histories(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The histories of customers who have ordered (what BG/NBD is fitted on)."""
    x, t_x, T, has = histories_of(frame)
    return x[has], t_x[has], T[has]


def _bg_nbd_points(model: BgNbd, frame: pl.DataFrame) -> np.ndarray:
    x, t_x, T, _ = histories_of(frame)
    return 100.0 * model.p_no_purchase(HORIZON_DAYS, x, t_x, T)


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    if len(y) < MIN_ROWS or y.min() == y.max():
        return None
    return round(float(roc_auc_score(y, scores)), 4)


def _eval_rows(rows: pl.DataFrame, label: str) -> pl.DataFrame:
    """The agency's newest EVAL_PERIODS labelled month-ends."""
    labelled = rows.filter(pl.col(label).is_not_null())
    dates = sorted(labelled["as_of_date"].unique().to_list())[-EVAL_PERIODS:]
    return labelled.filter(pl.col("as_of_date").is_in(dates))


def fallback_kind(entity_type: str, churn_mode: str) -> str:
    if entity_type == "lead":
        return "engagement"
    return "bg_nbd" if churn_mode == "activity" else "survival"


def _fallback_scores_on(kind: str, rows: pl.DataFrame, history: pl.DataFrame, label: str,
                        tenures: pl.DataFrame | None) -> np.ndarray:
    """The fallback's scores on evaluation rows, fitted on what it could have known at each month-end."""
    out = np.empty(rows.height)
    for (day,), part in rows.with_row_index("_i").group_by("as_of_date"):
        if kind == "survival":
            model = fit_survival(tenures, month_end_instant(day))
            out[part["_i"].to_numpy()] = 100.0 * model.p_churn(tenure_of(part))
        elif kind == "bg_nbd":
            model = BgNbd.fit(*_bg_nbd_histories(part))
            out[part["_i"].to_numpy()] = _bg_nbd_points(model, part)
        else:
            known = history.filter(pl.col("as_of_date") <= day - dt.timedelta(days=HORIZON_DAYS))
            model = fit_engagement(known, label)
            out[part["_i"].to_numpy()] = 100.0 * model.predict_proba(part)
    return out


def _fit_fallback(kind: str, now_frame: pl.DataFrame, rows: pl.DataFrame, label: str,
                  tenures: pl.DataFrame | None, now: dt.datetime) -> dict[str, Any]:
    """The fallback fitted on everything the agency has now, with its tiers and what explains it."""
    if kind == "survival":
        survival = fit_survival(tenures, now)
        points = 100.0 * survival.p_churn(tenure_of(now_frame))
        params = survival_params(survival, now_frame)
    elif kind == "bg_nbd":
        model = BgNbd.fit(*_bg_nbd_histories(now_frame))
        points = _bg_nbd_points(model, now_frame)
        x, t_x, T = _bg_nbd_histories(now_frame)
        typical = {"order_days_lifetime": float(np.median(x) + 1), "days_since_first_order": float(np.median(T)),
                   "days_since_last_order": float(np.median(T - t_x))}
        params: dict[str, Any] = {"model": model.to_dict(), "typical": typical, "customers": len(x),
                                  "horizon_days": HORIZON_DAYS}
    else:
        engagement: EngagementModel = fit_engagement(rows, label)
        points = 100.0 * engagement.predict_proba(now_frame)
        params = {"model": engagement.to_dict(), "fitted_on": engagement.kind,
                  "labelled_rows": engagement.positives + engagement.negatives}
    params["tiers"] = tier_thresholds(points, TIER_SHARES) if len(points) else {}
    return params


def _fitted(name: str, params: dict[str, Any]) -> str:
    """What the fallback is fitted on, in the reason: the agency's data, or a prior stated as such."""
    if params.get("model", {}).get("kind") == "survival" and params.get("fitted_on") == "prior":
        return (f"{name} at its stated prior ({PRIOR_YEARLY_CHURN:.0%} of contracts ending within a year, whatever "
                f"the tenure): this agency has {params['customers']} customers and {params['churns']} ended contracts, "
                f"under the {MIN_CUSTOMERS} and {MIN_CHURNS} its own table needs")
    return f"{name} fitted on this agency's own data"


def choose_for_tenant(entity_type: str, cfg: TrainConfig, now_frame: pl.DataFrame, rows: pl.DataFrame,
                      learned: Learned | None, churn_mode: str, tenures: pl.DataFrame | None = None,
                      now: dt.datetime | None = None) -> ModelChoice:
    """One agency's choice. `now_frame`: its features as of `now`; `rows`: its month-end mart rows; `tenures`:
    its customers' customer_since and churned_at (models_ml.survival_fit.read_tenures; contractual accounts)."""
    kind = fallback_kind(entity_type, churn_mode)
    name = NAMES[kind]
    if kind == "survival" and tenures is None:
        raise ValueError("contractual churn's fallback needs the agency's customer tenures (read_tenures)")
    try:
        params = _fit_fallback(kind, now_frame, rows, cfg.label, tenures, now or dt.datetime.now(dt.UTC))
    except ValueError as exc:
        return ModelChoice(entity_type, "learned", f"{name} cannot be fitted on this agency's data: {exc}")
    evaluation = _eval_rows(rows, cfg.label)
    y = evaluation[cfg.label].cast(pl.Int8).to_numpy() if evaluation.height else np.array([], dtype=np.int8)
    comparison: dict[str, Any] = {"rows": int(evaluation.height), "positives": int(y.sum()),
                                  "as_of_dates": sorted(str(d) for d in evaluation["as_of_date"].unique())}
    try:
        comparison[f"{kind}_roc_auc"] = _auc(y, _fallback_scores_on(kind, evaluation, rows, cfg.label, tenures))
    except ValueError as exc:   # too few customers at an older month-end: the comparison cannot be made
        comparison[f"{kind}_roc_auc"] = None
        comparison["note"] = str(exc)
    fitted = _fitted(name, params)
    if learned is None:
        return ModelChoice(entity_type, kind, f"no learned {cfg.model_name} model yet: {fitted}", params, comparison)
    comparison["learned_version"] = learned.version
    comparison["learned_roc_auc"] = _auc(y, learned.predict(evaluation)) if evaluation.height else None
    ours, theirs = comparison["learned_roc_auc"], comparison[f"{kind}_roc_auc"]
    if ours is None:
        return ModelChoice(entity_type, kind, f"the learned model cannot be checked on this agency's own data "
                                              f"({evaluation.height} labelled rows, {int(y.sum())} positive): "
                                              f"{fitted}", params, comparison)
    if theirs is not None and theirs > ours:
        return ModelChoice(entity_type, kind, f"{name} ranks this agency's newest labelled month-ends better than "
                                              f"learned v{learned.version} (ROC AUC {theirs:.3f} > {ours:.3f})",
                           params, comparison)
    versus = f" >= {name} {theirs:.3f}" if theirs is not None else ""
    return ModelChoice(entity_type, "learned", f"learned v{learned.version} ROC AUC {ours:.3f}{versus} on this "
                                               "agency's newest labelled month-ends", params, comparison)


def _learned(cfg: TrainConfig) -> Learned | None:
    from models_ml.registry import current_champion, load_version
    from models_ml.tracking import use_project_store

    version = current_champion(use_project_store(), cfg.model_name)
    if version is None:
        return None
    booster, bundle = load_version(cfg.model_name, version)
    return Learned(version, booster, bundle)


def _mart_rows(cfg: TrainConfig) -> pl.DataFrame:
    try:
        return read_features(cfg)
    except Exception as exc:  # no mart yet (a fresh install before its first build): every agency is new
        log.warning("%s unreadable (%s): choosing without month-end history", cfg.table, exc)
        return pl.DataFrame({"tenant_id": [], "as_of_date": [], cfg.label: []},
                            schema={"tenant_id": pl.Utf8, "as_of_date": pl.Date, cfg.label: pl.Int8})


def choose(entity_type: str, queries: FeatureQueries, tenant_ids: list[str] | None = None,
           now: dt.datetime | None = None) -> ChoiceRun:
    """Decide and record the choice of every agency (or of `tenant_ids`) for `entity_type`."""
    cfg = lead_config() if entity_type == "lead" else churn_config()
    now = now or dt.datetime.now(dt.UTC)
    learned, mart = _learned(cfg), _mart_rows(cfg)
    run = ChoiceRun(entity_type)
    for tenant_id in all_tenant_ids() if tenant_ids is None else tenant_ids:
        rows = mart.filter(pl.col("tenant_id") == str(tenant_id))
        with tenant_session(tenant_id) as session:
            churn_mode = session.execute(_CHURN_MODE).scalar_one()
            now_frame = compute(session, queries, entity_type, None, now)
            tenures = read_tenures(session) if fallback_kind(entity_type, churn_mode) == "survival" else None
            chosen = choose_for_tenant(entity_type, cfg, now_frame, rows, learned, churn_mode, tenures, now)
            tenant_models.record(session, chosen)
        log.info("tenant %s %s: %s (%s)", tenant_id, entity_type, chosen.kind, chosen.reason)
        run.tenants += 1
        run.kinds[chosen.kind] = run.kinds.get(chosen.kind, 0) + 1
        run.choices[str(tenant_id)] = chosen
    return run

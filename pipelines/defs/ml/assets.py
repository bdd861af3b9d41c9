"""ML: train + register the two models (champion gate inside), then publish scores with the champion.

Training reads the month-end marts (complete labels); scoring reads features as of now, computed on
PostgreSQL by the live form of the same dbt models (pipelines/lib/live_sql.py), like the live refresh.
Thin assets: the logic is in models_ml/ (training) and serving/ (scoring); these return the figures a data
team looks at in the Dagster UI. A model the data cannot train yet (no leads, one outcome, too little history)
materializes with `status: skipped` and the reason; its scoring asset still scores the agencies whose own
fallback was chosen (pipelines/defs/ml/choice.py): the rest of the pipeline goes on.
"""

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from models_ml.config import TrainConfig, churn_config, lead_config
from models_ml.job import TrainingSkipped, train_and_register
from pipelines.lib.live_sql import feature_queries
from serving.batch import score_now


class TrainRunConfig(Config):
    """Per-run LightGBM overrides from the launchpad (empty: the model's own config)."""

    learning_rate: float | None = Field(default=None, description="LightGBM learning rate")
    early_stopping_rounds: int | None = Field(default=None, description="Stop after this many rounds without gain")
    num_threads: int | None = Field(default=None, description="LightGBM threads")


def _train(context: AssetExecutionContext, cfg: TrainConfig, run: TrainRunConfig) -> MaterializeResult:
    overrides = {k: v for k, v in run.model_dump().items() if v is not None}
    if overrides:
        cfg = cfg.model_copy(update={"lgbm": cfg.lgbm.model_copy(update=overrides)})
    outcome = train_and_register(cfg)
    summary = outcome.summary()
    if isinstance(outcome, TrainingSkipped):
        context.log.warning(f"{cfg.model_name} not trained: {outcome.reason} (MLflow run {outcome.run_id}; "
                            f"champion {outcome.champion_version or 'none'} kept)")
        return MaterializeResult(metadata={**summary, "reason": MetadataValue.text(outcome.reason)})
    context.log.info(f"{cfg.model_name} v{outcome.version}: {outcome.decision.reason}")
    metadata = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) and v == v}
    metadata["model_card"] = MetadataValue.md(
        f"Run `{outcome.run_id}` in MLflow experiment `{cfg.experiment_name}`: see model_card.md there.")
    return MaterializeResult(metadata=metadata)


@asset(group_name="ml", deps=[AssetKey("lead_features")], kinds={"lightgbm", "mlflow"},
       description="Train lead_score on marts.lead_features; champion alias only if it beats the current one")
def lead_score_model(context: AssetExecutionContext, config: TrainRunConfig) -> MaterializeResult:
    return _train(context, lead_config(), config)


@asset(group_name="ml", deps=[AssetKey("account_features")], kinds={"lightgbm", "mlflow"},
       description="Train churn_risk on marts.account_features; champion alias only if it beats the current one")
def churn_risk_model(context: AssetExecutionContext, config: TrainRunConfig) -> MaterializeResult:
    return _train(context, churn_config(), config)


def _publish(context: AssetExecutionContext, entity_type: str) -> MaterializeResult:
    result = score_now(entity_type, feature_queries())
    if not result.model_version:
        context.log.warning(f"no '{result.model_name}' model has the champion alias yet (see its training asset "
                            f"for why): only agencies with a fallback were scored ({result.kinds or 'none'})")
    return MaterializeResult(metadata={"rows": result.rows, "tenants": result.tenants, "model": result.model_name,
                                       "model_version": result.model_version or "no champion model yet",
                                       **{f"tenants_{kind}": n for kind, n in result.kinds.items()},
                                       "as_of": ", ".join(result.as_of_dates),
                                       "live_changes_answered": result.settled})


@asset(group_name="ml", deps=[lead_score_model, AssetKey("lead_scoring_choice")], kinds={"postgres"},
       description="Every open lead, with features as of now, scored by its agency's model (the lead_score champion "
                   "or its engagement fallback) into scores + score_history (RLS)")
def lead_scores(context: AssetExecutionContext) -> MaterializeResult:
    return _publish(context, "lead")


@asset(group_name="ml", deps=[churn_risk_model, AssetKey("account_scoring_choice")], kinds={"postgres"},
       description="Every customer account, with features as of now, scored by its agency's model (the churn_risk "
                   "champion or its BG/NBD fallback) into scores + score_history (RLS)")
def account_scores(context: AssetExecutionContext) -> MaterializeResult:
    return _publish(context, "account")


ML_ASSETS = [lead_score_model, churn_risk_model, lead_scores, account_scores]

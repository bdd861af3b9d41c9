"""Per agency, the model that scores it: the learned champion or its own fallback (models_ml.choice).

Runs after training and before publishing, so the scoring assets (and the live refresher, which reads the same
`tenant_models` rows) score each agency with the model its own data supports.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from models_ml.choice import choose
from pipelines.lib.live_sql import feature_queries


def _table(choices: dict) -> str:
    lines = ["| agency | kind | reason |", "|---|---|---|"]
    lines += [f"| `{tenant[:8]}` | {c.kind} | {c.reason} |" for tenant, c in sorted(choices.items())]
    return "\n".join(lines)


def _choose(context: AssetExecutionContext, entity_type: str) -> MaterializeResult:
    run = choose(entity_type, feature_queries())
    for tenant, chosen in sorted(run.choices.items()):
        context.log.info(f"{tenant} {entity_type}: {chosen.kind} — {chosen.reason}")
    return MaterializeResult(metadata={"tenants": run.tenants, **{f"kind_{k}": v for k, v in run.kinds.items()},
                                       "choices": MetadataValue.md(_table(run.choices))})


@asset(group_name="ml", deps=[AssetKey("lead_score_model")], kinds={"postgres"},
       description="Per agency: the learned lead_score champion, or an engagement model fitted on its own leads "
                   "where the champion cannot be checked on them or ranks them worse (tenant_models, RLS)")
def lead_scoring_choice(context: AssetExecutionContext) -> MaterializeResult:
    return _choose(context, "lead")


@asset(group_name="ml", deps=[AssetKey("churn_risk_model")], kinds={"postgres"},
       description="Per agency: the learned churn_risk champion, or a fallback fitted on its own data where the "
                   "champion cannot be checked on it or ranks it worse: BG/NBD on its order history for purchase "
                   "(activity-mode) churn, a tenure life table of its contracts for contractual churn")
def account_scoring_choice(context: AssetExecutionContext) -> MaterializeResult:
    return _choose(context, "account")


CHOICE_ASSETS = [lead_scoring_choice, account_scoring_choice]

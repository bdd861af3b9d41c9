"""An agency whose data cannot train a model still gets a green pipeline run: a customers-only agency (no
leads to learn from) and a leads-only agency (no customer accounts), each alone in a fresh install, run the
whole pipeline; the model that cannot be trained is recorded as skipped in MLflow with its reason and in the
Dagster metadata, and its scoring asset says "no champion model yet" but still scores every entity with the
agency's own fallback (BG/NBD for purchase churn, the engagement model for leads). And churn mode is a setting:
changing it relabels that agency's accounts at the next build, and no other agency's."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from mlflow import MlflowClient
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.settings import get_settings
from crm.tenancy import set_churn_mode
from crm.warehouse import mart_table, query
from tests.conftest import make_tenant
from tests.homes import private_home
from tests.pipelines.factory import _pipeline, _won_deal, at, insert

FAST = {"learning_rate": 0.1, "early_stopping_rounds": 30, "num_threads": 1}  # tests/ml_support.FAST
TRAIN_ASSETS = ("lead_score_model", "churn_risk_model")
START = date(2025, 1, 5)


def _day(d: date, hour: int = 10) -> str:
    return f"{d.isoformat()} {hour:02d}:00"


def seed_customers_only(tenant_id: str, companies: int = 40, seed: int = 3) -> None:
    """Customer companies with one contact each and orders through 2025; a third stop ordering at some point.
    No prospect, no deal: nothing a lead model could learn conversion from."""
    rng = random.Random(seed)
    with tenant_session(tenant_id) as s:
        s.execute(text("update tenants set churn_mode = 'activity' where id = app_tenant_id()"))
        for i in range(companies):
            company = insert(s, "companies", name=f"Shop {i}", size="1-10", industry="Retail", lifecycle="customer",
                             customer_since=date(2024, 3, 1), created_at=at("2024-02-01 00:00"))
            contact = insert(s, "contacts", email=f"buyer{i}@shop{i}.example", first_name="Buyer", company_id=company,
                             created_at=at("2024-02-02 09:00"))
            every = rng.randint(15, 50)
            stop = date(2025, rng.randint(3, 11), 1) if i % 3 == 0 else date(2026, 1, 1)
            day = START + timedelta(days=rng.randint(0, 20))
            while day < min(stop, date(2025, 12, 31)):
                insert(s, "activities", type="order", occurred_at=at(_day(day)), company_id=company,
                       contact_id=contact, properties={"amount": rng.randint(20, 400)})
                day += timedelta(days=every)
        insert(s, "activities", type="order", occurred_at=at("2025-12-31 12:00"), company_id=company,
               contact_id=contact, properties={"amount": 50})


def seed_leads_only(tenant_id: str, leads: int = 80, seed: int = 5) -> None:
    """Leads with emails and visits; a quarter reply and win a deal. No customer company: no account."""
    rng = random.Random(seed)
    with tenant_session(tenant_id) as s:
        stages = _pipeline(s)
        for i in range(leads):
            created = START + timedelta(days=rng.randint(0, 260))
            contact = insert(s, "contacts", email=f"lead{i}@prospect.example", first_name="Lead",
                             lead_source=rng.choice(["referral", "organic", "webinar"]), created_at=at(_day(created)))
            hot = i % 4 == 0
            for k in range(rng.randint(2, 6)):
                when = created + timedelta(days=3 + 7 * k)
                insert(s, "activities", type="email_sent", occurred_at=at(_day(when)), contact_id=contact,
                       properties={})
                insert(s, "activities", type="web_visit", occurred_at=at(_day(when, 14)), contact_id=contact,
                       properties={"page": "/pricing" if hot else "/blog"})
                if hot:
                    insert(s, "activities", type="email_replied", occurred_at=at(_day(when, 16)),
                           contact_id=contact, properties={}, body="Thanks, interested")
            if hot:
                closed = created + timedelta(days=rng.randint(20, 70))
                _won_deal(s, stages, contact, None, _day(created, 11), _day(closed, 12))
        insert(s, "activities", type="web_visit", occurred_at=at("2025-12-31 12:00"), contact_id=contact,
               properties={"page": "/blog"})


def _run_whole_pipeline():
    from pipelines.run import run_pipeline
    from tests.ml_support import CACHE, install_mlflow_store

    install_mlflow_store(CACHE)
    return run_pipeline(run_config={"ops": {name: {"config": FAST} for name in TRAIN_ASSETS}})


def _metadata(result, asset: str) -> dict:
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def _skipped_runs(model: str) -> list:
    client = MlflowClient(tracking_uri=get_settings().mlflow_uri, registry_uri=get_settings().mlflow_uri)
    experiment = client.get_experiment_by_name(model)
    assert experiment is not None, f"no MLflow experiment {model}"
    return client.search_runs([experiment.experiment_id], "tags.`training.status` = 'skipped'")


def _assert_skipped(result, model_asset: str, model: str, score_asset: str) -> str:
    meta = _metadata(result, model_asset)
    assert meta["status"] == "skipped" and meta["reason"], meta
    [run] = _skipped_runs(model)
    assert run.data.tags["training.reason"] == meta["reason"] and run.info.run_id == meta["run_id"]
    from serving.models import champion_version

    assert champion_version(model) is None  # nothing registered, nothing promoted
    assert _metadata(result, score_asset)["model_version"] == "no champion model yet"
    return meta["reason"]


def _scores(tenant_id: str, entity_type: str) -> list:
    with tenant_session(tenant_id) as s:
        return s.execute(text("select s.entity_id, s.model_kind, s.score, s.factors, f.features from scores s "
                              "join analytics.features_latest f using (tenant_id, entity_type, entity_id) "
                              "where s.entity_type = :e"), {"e": entity_type}).all()


def test_customers_only_agency_runs_green_and_records_the_lead_model_as_skipped(tmp_path):
    with private_home(tmp_path / "home"):
        agency = make_tenant("Shops only")
        seed_customers_only(agency["tenant_id"])
        result = _run_whole_pipeline()
        assert result.success
        reason = _assert_skipped(result, "lead_score_model", "lead_score", "lead_scores")
        assert "both outcomes" in reason or "no labelled rows" in reason, reason
        churn = _metadata(result, "churn_risk_model")
        assert churn["status"] in ("trained", "skipped"), churn
        # its buyers count as leads (contacts without a won deal); no learned lead model: the engagement prior
        leads = _scores(agency["tenant_id"], "lead")
        assert leads and {row.model_kind for row in leads} == {"engagement"}
        # every customer is scored, the lapsed ones too, by the learned model or the agency's own BG/NBD
        accounts = _scores(agency["tenant_id"], "account")
        assert len(accounts) == 40
        assert {row.model_kind for row in accounts} <= {"learned", "bg_nbd"}
        if churn["status"] == "skipped":
            assert {row.model_kind for row in accounts} == {"bg_nbd"}
        # the data ends 2025-12-31: as of now every customer is lapsed, scored with reasons, mostly high risk
        assert all(row.features["is_lapsed"] == 1 and row.factors for row in accounts)
        assert sorted(row.score for row in accounts)[len(accounts) // 2] >= 50


def test_leads_only_agency_runs_green_and_records_the_churn_model_as_skipped(tmp_path):
    with private_home(tmp_path / "home"):
        agency = make_tenant("Leads only")
        seed_leads_only(agency["tenant_id"])
        result = _run_whole_pipeline()
        assert result.success
        reason = _assert_skipped(result, "churn_risk_model", "churn_risk", "account_scores")
        assert "no labelled rows" in reason, reason
        lead = _metadata(result, "lead_score_model")
        assert lead["status"] in ("trained", "skipped"), lead
        if lead["status"] == "trained":  # its split is named, whichever history allowed
            assert lead["split"].endswith("purged")
        assert _metadata(result, "lead_scores")["rows"] > 0   # by the champion or the engagement fallback
        leads = _scores(agency["tenant_id"], "lead")
        assert leads and {row.model_kind for row in leads} <= {"learned", "engagement"}
        if lead["status"] == "skipped":
            assert {row.model_kind for row in leads} == {"engagement"}


# ---------------------------------------------------------------- churn mode relabels at the next build

def _seed_relabel_tenant(tenant_id: str, mode: str) -> None:
    """Shop A1 is churned by contract in May; A2 stops ordering in February but keeps its contract; A3 orders
    every month. Contractual and activity churn disagree on A1 and A2."""
    with tenant_session(tenant_id) as s:
        s.execute(text("update tenants set churn_mode = :m where id = app_tenant_id()"), {"m": mode})
        orders = {"A1": ["2025-01-10", "2025-02-10", "2025-03-10", "2025-04-10"],
                  "A2": ["2025-01-10", "2025-02-10"],
                  "A3": [f"2025-{m:02d}-12" for m in range(1, 13)]}
        for name, days in orders.items():
            company = insert(s, "companies", name=name, size="11-50", industry="Retail",
                             lifecycle="churned" if name == "A1" else "customer", customer_since=date(2024, 6, 1),
                             churned_at=at("2025-05-15 10:00") if name == "A1" else None,
                             created_at=at("2024-05-01 00:00"))
            for day in days:
                insert(s, "activities", type="order", occurred_at=at(f"{day} 10:00"), company_id=company,
                       properties={"amount": 100})


def _accounts(tenant_id: str) -> set[tuple]:
    rows = query(f"select cast(company_id as varchar), as_of_date, churn_mode, churned_90d "
                 f"from {mart_table('account_features')} where cast(tenant_id as varchar) = '{tenant_id}'")
    return set(zip(*(rows.column(i).to_pylist() for i in range(4)), strict=True))


def test_changing_the_churn_mode_relabels_that_agency_only_at_the_next_build(tmp_path):
    from pipelines.run import run_pipeline

    with private_home(tmp_path / "home"):
        changed, kept = make_tenant("Switching"), make_tenant("Staying")
        _seed_relabel_tenant(changed["tenant_id"], "contractual")
        _seed_relabel_tenant(kept["tenant_id"], "contractual")
        assert run_pipeline("group:ingest or group:transform").success
        first, first_kept = _accounts(changed["tenant_id"]), _accounts(kept["tenant_id"])
        assert first and {r[2] for r in first} == {"contractual"}
        # contractual: A1's contract ends in May -> churned at the month-ends before; A2 never churns
        assert any(r[3] == 1 for r in first)

        assert set_churn_mode(changed["tenant_id"], "activity")["churn_mode"] == "activity"
        assert _accounts(changed["tenant_id"]) == first  # nothing changes before the next run

        assert run_pipeline("group:ingest or group:transform").success
        second = _accounts(changed["tenant_id"])
        assert {r[2] for r in second} == {"activity"}
        assert {(r[0], r[1], r[3]) for r in second} != {(r[0], r[1], r[3]) for r in first}
        assert _accounts(kept["tenant_id"]) == first_kept  # the other agency's accounts and labels as they were


def seed_young_contractual(tenant_id: str, customers: int = 45, ended: int = 15, seed: int = 6) -> None:
    """An agency four months in the CRM that imported its book: customers signed over the last three years and
    contracts that ended (churned_at), no order and no lead."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    imported = now - timedelta(days=120)
    with tenant_session(tenant_id) as s:
        for i in range(customers + ended):
            since = (now - timedelta(days=rng.randint(30, 1100))).date()
            churned = now - timedelta(days=rng.randint(1, (now.date() - since).days - 1)) if i >= customers else None
            insert(s, "companies", name=f"Client {i}", lifecycle="churned" if churned else "customer",
                   customer_since=since, churned_at=churned, created_at=imported)


def test_a_young_contractual_agency_runs_green_and_its_accounts_get_the_tenure_life_table(tmp_path):
    with private_home(tmp_path / "home"):
        agency = make_tenant("Contracts")
        set_churn_mode(agency["tenant_id"], "contractual")
        seed_young_contractual(agency["tenant_id"])
        result = _run_whole_pipeline()
        assert result.success
        # no activity yet: no month-end to label, so no learned churn model; every account still has a score
        _assert_skipped(result, "churn_risk_model", "churn_risk", "account_scores")
        accounts = _scores(agency["tenant_id"], "account")
        assert len(accounts) == 45 and {row.model_kind for row in accounts} == {"survival"}
        assert all(row.factors[0]["feature"] == "days_as_customer" for row in accounts)
        assert _metadata(result, "account_scoring_choice")["kind_survival"] == 1

"""Every analyst notebook runs to the end on freshly generated demo data, and reads only its tenant.

One module-scoped world in its own CRM_HOME: a tiny demo (two agencies, 24 months) freshly loaded;
the pipeline's ingest and transform groups, the lead model and the lead scores materialized in-process;
then a second lead scoring run so the drift section has two runs to compare.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import nbformat
import pytest

from crm.marts import list_marts, read_mart, read_score_history
from crm.settings import get_settings
from tests.conftest import make_tenant
from tests.homes import private_home
from tests.notebooks.runner import NOTEBOOKS, execute

NOTEBOOK_FILES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
# The marts and the lead scores: the API's published tables, the RAG index and the churn model are not read here.
PIPELINE_SELECTION = "group:ingest or group:transform or key:lead_score_model or key:lead_scores"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[dict]:
    from app.demo import DemoSpec, load_demo
    from pipelines.run import run_pipeline
    from serving.batch import score_entities
    from tests.ml_support import CACHE, install_mlflow_store

    with private_home(tmp_path_factory.mktemp("notebooks-home")):
        install_mlflow_store(CACHE)  # a ready MLflow sqlite store instead of ~16 s of migrations
        result = load_demo(spec=DemoSpec(tenants=2, contacts=300, months=24, name="notebooks"), seed=11)
        run_pipeline(select=PIPELINE_SELECTION)
        tenants = [t.tenant_id for t in result.tenants]
        first = read_score_history(tenants[0], "lead")
        assert not first.empty, "the pipeline's ml group published no lead scores for the demo tenant"
        score_entities("lead", scored_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
        yield {"tenants": tenants}


def test_notebooks_are_stored_without_outputs_and_take_a_tenant_parameter():
    assert len(NOTEBOOK_FILES) == 4, NOTEBOOK_FILES
    for name in NOTEBOOK_FILES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} has stored outputs"
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and params[0].source.startswith("TENANT_ID = None"), name
        assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4, f"{name} explains too little"


@pytest.mark.parametrize(("name", "images", "says"), [
    ("01_pipeline_win_rates.ipynb", 5, ["won_amount", "lead_source", "owner_name"]),
    ("02_campaign_attribution_cohorts.ipynb", 4, ["return_on_budget", "converted_90d"]),
    ("03_lead_score_evaluation.ipynb", 3, ["PSI", "ROC AUC", "cumulative_capture"]),
    ("04_account_churn_survival.ipynb", 4, ["median lifetime", "churn mode", "still a customer"]),
])
def test_notebook_runs_to_the_end_with_real_plots(demo, name, images, says):
    run = execute(name, TENANT_ID=demo["tenants"][0])
    assert run.images() >= images, f"{name}: {run.images()} plots"
    text = run.text()
    for phrase in says:
        assert phrase in text, f"{name}: {phrase!r} not in its output"
    assert demo["tenants"][1] not in text  # nothing of the other demo agency shows up
    print(f"{name}: {run.seconds:.1f} s")


def test_score_notebook_explains_a_tenant_without_scores(demo):
    fresh = make_tenant("No scores")["tenant_id"]  # in PostgreSQL, never scored, not in the marts
    run = execute("03_lead_score_evaluation.ipynb", TENANT_ID=fresh)
    assert "No lead scores have been published for this tenant yet" in run.text()
    assert run.images() == 0


def test_every_mart_read_returns_only_the_asked_tenant(demo):
    path = get_settings().warehouse_path
    names = list_marts()
    assert {"deals", "contacts", "companies", "campaign_performance", "kpis", "lead_features"} <= set(names)
    with duckdb.connect(str(path), read_only=True) as con:
        for mart in names:
            total = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            seen = 0
            for tenant in demo["tenants"]:
                frame = read_mart(mart, tenant)
                expected = con.execute(f"select count(*) from marts.{mart} where tenant_id = ?::uuid",
                                       [tenant]).fetchone()[0]
                assert len(frame) == expected and set(frame["tenant_id"]) <= {tenant}, mart
                seen += len(frame)
            others = con.execute(f"select count(*) from marts.{mart} where tenant_id not in (?::uuid, ?::uuid)",
                                 demo["tenants"]).fetchone()[0]
            assert seen + others == total, mart
    assert not read_score_history(demo["tenants"][0])["entity_id"].isin(
        read_score_history(demo["tenants"][1])["entity_id"]).any()

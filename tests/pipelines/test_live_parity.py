"""Train/serve parity: the live feature SQL (dbt's models compiled for PostgreSQL, touched ids only) gives
exactly the features a full dbt build on the DuckDB warehouse gives, for the same instant.

One module-scoped world in its own CRM_HOME: a generated demo agency pair in PostgreSQL (every kind of
activity, deals with stage history, campaigns, notes with sentiment), extracted into DuckDB and built by dbt
with `as_of_at` pinned to each instant; the live SQL is then run on PostgreSQL for the same instants."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import duckdb
import polars as pl
import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.live_features import ENTITY_KEYS, LABELS, MARTS, compute
from tests.homes import private_home

# Now (the serving instant) and a past instant in mid-afternoon: events after it exist in the data and must
# count in neither form; 7/30/90-day windows cut through the history at a time of day, not at midnight.
PAST = dt.datetime(2026, 9, 14, 15, 37, 12)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    from app.demo import DemoSpec, load_demo
    from crm.ingest.extract import extract
    from pipelines.lib.dbt_cli import run_dbt
    from pipelines.lib.live_sql import feature_queries
    from serving.sentiment import score_all_tenants

    with private_home(tmp_path_factory.mktemp("live-parity-home")) as home:
        demo = load_demo(spec=DemoSpec(tenants=2, contacts=240, months=12, name="live-parity"), seed=17,
                         end_date=dt.date(2026, 11, 28))
        score_all_tenants()
        extract(home / "warehouse.duckdb")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        builds = {}
        for instant in (now, PAST):
            folder = tmp_path_factory.mktemp("build")
            (folder / "warehouse.duckdb").write_bytes((home / "warehouse.duckdb").read_bytes())
            proc = run_dbt(["run", "--select", "+lead_features +account_features"], "duckdb", crm_home=folder,
                           vars={"as_of_at": instant.isoformat(sep=" ")})
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
            con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
            builds[instant] = {kind: pl.from_arrow(con.sql(f"select * from marts.{mart}").arrow())
                               for kind, mart in MARTS.items()}
            con.close()
        yield {"tenants": [t.tenant_id for t in demo.tenants], "queries": feature_queries(), "builds": builds,
               "now": now}


def _live(world, tenant: str, kind: str, instant: dt.datetime, ids: list[str] | None) -> pl.DataFrame:
    with tenant_session(tenant) as session:
        return compute(session, world["queries"], kind, ids, instant)


def _same(live: pl.DataFrame, built: pl.DataFrame, kind: str) -> None:
    key = ENTITY_KEYS[kind]
    assert live.height == built.height and live.height > 0
    assert set(live.columns) == set(built.columns)
    live, built = live.sort(key), built.sort(key)
    for column in live.columns:
        if column in ("tenant_id", key):
            assert [str(v) for v in live[column]] == [str(v) for v in built[column]], column
            continue
        for entity, a, b in zip(live[key], live[column].to_list(), built[column].to_list(), strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert (a is None and b is None) or (a is not None and b is not None and
                                                     math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)), \
                    (column, entity, a, b)
            else:
                assert a == b, (column, entity, a, b)


@pytest.mark.parametrize("when", ["now", "past"])
@pytest.mark.parametrize("kind", ["lead", "account"])
def test_live_features_equal_a_full_dbt_build_for_the_same_instant(world, kind, when):
    instant = world["now"] if when == "now" else PAST
    built_all = world["builds"][instant][kind]
    for tenant in world["tenants"]:
        built = built_all.filter(pl.col("tenant_id").cast(pl.Utf8) == tenant)
        _same(_live(world, tenant, kind, instant, None), built, kind)
        # the live path's narrowing to touched ids changes nothing for them
        some = sorted(str(v) for v in built[ENTITY_KEYS[kind]])[::7]
        picked = built.filter(pl.col(ENTITY_KEYS[kind]).cast(pl.Utf8).is_in(some))
        _same(_live(world, tenant, kind, instant, some), picked, kind)
        assert built[LABELS[kind]].null_count() == built.height  # one instant: no label is known yet


def test_the_features_see_nothing_after_their_instant(world):
    tenant = world["tenants"][0]
    past = _live(world, tenant, "lead", PAST, None)
    now = _live(world, tenant, "lead", world["now"], None)
    assert set(past["as_of_date"].to_list()) == {PAST.date()}
    assert past["activities_90d"].sum() != now.filter(pl.col("contact_id").is_in(past["contact_id"]))[
        "activities_90d"].sum()


def test_another_tenants_ids_give_nothing(world):
    a, b = world["tenants"]
    b_ids = [str(v) for v in world["builds"][world["now"]]["lead"].filter(
        pl.col("tenant_id").cast(pl.Utf8) == b)["contact_id"]]
    assert _live(world, a, "lead", world["now"], b_ids).height == 0  # RLS: B's rows do not exist for A


def test_the_narrowed_query_keeps_one_generic_plan_and_puts_the_setting_back(world):
    """The touched-ids form decides "every entity?" when the clause is made (EVERY_ENTITY is what the macros ask),
    so a connection's prepared query is planned once: generic plans only, and the session's own setting after."""
    from sqlalchemy.orm import Session

    from crm.db.engine import app_engine, set_tenant
    from crm.live_features import EVERY_ENTITY

    queries, tenant = world["queries"], world["tenants"][0]
    assert EVERY_ENTITY in queries.lead and EVERY_ENTITY in queries.account
    assert EVERY_ENTITY not in queries.clause("lead").text and EVERY_ENTITY not in queries.clause("lead", True).text
    some = sorted(str(v) for v in world["builds"][world["now"]]["lead"].filter(
        pl.col("tenant_id").cast(pl.Utf8) == tenant)["contact_id"])[:3]
    with app_engine().connect() as conn:
        session = Session(bind=conn)
        for _ in range(8):   # the driver prepares a statement from its sixth execution on a connection
            with session.begin():
                set_tenant(session, tenant)
                assert compute(session, queries, "lead", some, world["now"]).height == 3
                assert session.execute(text("select current_setting('plan_cache_mode')")).scalar_one() == "auto"
        plans = conn.execute(text(   # both forms, if the every-entity one ran on this connection before
            "select generic_plans, custom_plans from pg_prepared_statements "
            "where position('Point-in-time lead features' in statement) > 0")).all()
    assert plans and sum(g for g, _ in plans) >= 1 and sum(c for _, c in plans) == 0

"""The logic of bench/load.py that needs no timing: the open-loop schedule and its figures, the crowd's
requests (parsed by the same HTTP parser uvicorn uses), and the wrk script's entries."""

from __future__ import annotations

import itertools
import json
import random
import sys
from collections import Counter
from pathlib import Path

import httptools
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from load_mix import MIX, AgencyIds, CrowdMix
from open_loop import Figures, error_kinds, percentile, schedule
from wrk_runner import figures, lua_script


def test_schedule_paces_requests_evenly_and_splits_warmup_from_the_window():
    slots = list(schedule(t0=100.0, rate=10, phase=0.05, warmup=2, seconds=3))
    assert len(slots) == 50   # 10 req/s over 5 s, whatever the server does
    assert slots[0] == (100.05, False)
    gaps = {round(b[0] - a[0], 9) for a, b in itertools.pairwise(slots)}
    assert gaps == {0.1}
    measured = [t for t, m in slots if m]
    assert len(measured) == 30 and min(measured) >= 102.0 and max(measured) < 105.0


def test_processes_with_phases_interleave_into_one_constant_rate():
    rate, processes = 100, 4
    due = sorted(t for p in range(processes)
                 for t, _ in schedule(0.0, rate / processes, p / rate, warmup=0, seconds=1))
    assert len(due) == 100
    assert max(b - a for a, b in itertools.pairwise(due)) == pytest.approx(0.01)


def test_percentile_is_nearest_rank_and_merged_figures_add_up():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([7.0], 99) == 7.0
    a = Figures(scheduled=3, latencies_ms=[1.0], statuses=Counter({200: 2, 429: 1}), errors=Counter(timeout=1),
                held=[10, 10], by_kind={"contact": [1.0]})
    b = Figures(scheduled=2, latencies_ms=[2.0], statuses=Counter({503: 1, 404: 1, 500: 1}), held=[5, 4, 3],
                by_kind={"contact": [2.0], "note (POST)": [3.0]})
    merged = Figures().merge(a).merge(b)
    assert merged.scheduled == 5 and merged.held == [15, 14]
    assert merged.by_kind == {"contact": [1.0, 2.0], "note (POST)": [3.0]}
    assert error_kinds(merged) == {"connect": 0, "timeout": 1, "closed": 0, "429": 1, "503": 1, "4xx": 1, "5xx": 1}


def _parse(raw: bytes) -> dict:
    seen: dict = {"headers": {}, "body": b""}

    class Sink:
        def on_url(self, url: bytes) -> None:
            seen["url"] = url.decode()

        def on_header(self, name: bytes, value: bytes) -> None:
            seen["headers"][name.decode().lower()] = value.decode()

        def on_body(self, body: bytes) -> None:
            seen["body"] += body

        def on_message_complete(self) -> None:
            seen["complete"] = True

    parser = httptools.HttpRequestParser(Sink())
    parser.feed_data(raw)
    seen["method"] = parser.get_method().decode()
    return seen


def test_crowd_requests_are_valid_http_with_the_agencys_own_key_and_ids():
    agencies = tuple(AgencyIds(keys=(f"key-{a}-0", f"key-{a}-1"), contacts=(f"c{a}",), companies=(f"co{a}",),
                               deals=(f"d{a}",), cursors=(None, f"cur/{a}+")) for a in range(3))
    mix = CrowdMix(agencies)
    rng = random.Random(3)
    kinds = Counter()
    for _ in range(2000):
        kind, raw = mix(rng)
        kinds[kind] += 1
        req = _parse(raw)
        assert req.get("complete"), kind
        agency = req["headers"]["authorization"].removeprefix("Bearer key-").split("-")[0]
        if kind == "contact list":
            assert req["url"].startswith("/api/v1/contacts?limit=50")
            assert "+" not in req["url"] and "/" not in req["url"].split("?", 1)[1]   # cursor is URL-encoded
        else:
            assert agency in req["url"] or agency in req["body"].decode(), (kind, req)
        if req["method"] in ("POST", "PATCH"):
            assert req["headers"]["content-length"] == str(len(req["body"]))
            json.loads(req["body"])
    assert set(kinds) == set(MIX)
    writes = sum(n for k, n in kinds.items() if "POST" in k or "PATCH" in k) / 2000
    assert 0.07 < writes < 0.13


def test_wrk_script_carries_each_entry_and_its_key_and_results_merge_per_thread():
    script = lua_script([("/api/v1/contacts/1", "k1"), ("/healthz", None)], count_statuses=True)
    assert '{"/api/v1/contacts/1", "k1"}' in script and '{"/healthz", ""}' in script
    assert "function response" in script
    assert "function response" not in lua_script([("/healthz", None)])
    raw = {"requests": 10, "duration_us": 2_000_000, "p50_us": 1500, "p99_us": 9000, "non_2xx": 4, "connect": 1,
           "read": 0, "write": 0, "timeout": 2, "statuses": [{"200": 3}, {"429": 4}, {"200": 3}]}
    out = figures(raw)
    assert out["statuses"] == {200: 6, 429: 4}
    assert (out["rps"], out["p50"], out["p99"], out["socket_errors"]) == (5.0, 1.5, 9.0, 3)


def test_the_servers_cpu_is_split_by_part_and_postgresql_by_connection_name(monkeypatch):
    import psycopg
    from bench_servers import CpuSample, postgres_names

    from crm.db.engine import app_url, psycopg_conninfo

    monkeypatch.setenv("PGAPPNAME", "crm-bench-probe")
    with psycopg.connect(psycopg_conninfo(app_url())) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        assert postgres_names()[backend] == "crm-bench-probe"
    before = CpuSample(1.0, 0.5, 2.0, {"workers": 1.0, "PostgreSQL for crm-api": 2.0}, at=10.0)
    after = CpuSample(3.0, 0.5, 3.0, {"workers": 3.0, "PostgreSQL for crm-api": 3.0}, at=14.0)
    assert (after - before).cores() == {"workers": 0.5, "PostgreSQL for crm-api": 0.25}


def test_a_kinds_cost_by_part_runs_until_its_queues_were_worked_off(capsys):
    from bench_servers import CpuSample
    from load_report import kind_row

    fig = Figures(scheduled=4, latencies_ms=[5.0] * 4, statuses=Counter({201: 4}))
    window = CpuSample(app=0.02, refresher=0.004, postgres=0.008, parts={"workers": 0.02}, at=1.0)
    drained = CpuSample(app=0.024, refresher=0.04, postgres=0.012,
                        parts={"workers": 0.02, "refresher": 0.04, "PostgreSQL for crm-refresher": 0.004}, at=3.0)
    row = kind_row("note (POST)", fig, window, drained)
    # the app and PostgreSQL over the load's window, the refresher until what the writes queued was done
    assert (round(row["app_ms"], 6), round(row["postgres_ms"], 6), round(row["refresher_ms"], 6)) == (5.0, 2.0, 10.0)
    assert row["by_part_ms"] == pytest.approx({"refresher": 10.0, "workers": 5.0, "PostgreSQL for crm-refresher": 1.0})
    assert list(row["by_part_ms"]) == ["refresher", "workers", "PostgreSQL for crm-refresher"]   # busiest first
    assert "refresher 10.00, workers 5.00, PostgreSQL for crm-refresher 1.00" in capsys.readouterr().out

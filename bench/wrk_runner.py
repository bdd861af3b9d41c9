"""Closed-loop load with wrk (Debian package `wrk`): a generated Lua script sends requests drawn at random from a
list of (path, API key) pairs, and reports its figures as one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

MARK = "WRK-RESULT "
MAX_ENTRIES = 4000   # each wrk thread formats every entry once; a sample keeps that small


def _lua_string(s: str) -> str:
    return json.dumps(s)   # a JSON string of ASCII text is a valid Lua string literal


def lua_script(entries: list[tuple[str, str | None]], count_statuses: bool = False) -> str:
    """A wrk script sending GET `path` with `Authorization: Bearer key` for a random entry per request.
    `count_statuses` adds a response() hook counting answers by status code (it costs wrk some speed, so the
    side-by-side table goes without it and reads wrk's own non-2xx count)."""
    rows = ",\n".join(f"{{{_lua_string(p)}, {_lua_string(k or '')}}}" for p, k in entries[:MAX_ENTRIES])
    counting = """
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
""" if count_statuses else ""
    return f"""
local entries = {{
{rows}
}}
local threads = {{}}
local prepared = {{}}
statuses = {{}}   -- global: done() reads each thread's table with thread:get

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  for i, e in ipairs(entries) do
    local headers = {{}}
    if e[2] ~= "" then headers["Authorization"] = "Bearer " .. e[2] end
    prepared[i] = wrk.format("GET", e[1], headers)
  end
end

function request()
  return prepared[math.random(#prepared)]
end
{counting}
function done(summary, latency, requests)
  local counts = {{}}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {{}}) do
      counts[#counts + 1] = string.format('{{"%d": %d}}', code, n)
    end
  end
  io.write(string.format(
    '{MARK}{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non_2xx": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "timeout": %d, "statuses": [%s]}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    table.concat(counts, ", ")))
end
"""


def start(url: str, entries: list[tuple[str, str | None]], connections: int, seconds: float,
          count_statuses: bool = False, threads: int | None = None, timeout_s: float = 10) -> subprocess.Popen:
    """wrk running against `url` (scheme://host:port) in the background; `finish` reads its figures."""
    threads = max(1, min(threads or os.cpu_count() or 1, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(entries, count_statuses))
    proc = subprocess.Popen(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                             "--timeout", f"{timeout_s:g}s", "-s", f.name, url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.script = Path(f.name)  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen) -> dict:
    """The figures of a wrk run: its JSON line plus req/s, p50/p99 in ms and, if counted, answers per status."""
    try:
        out, err = proc.communicate()
    finally:
        proc.script.unlink(missing_ok=True)  # type: ignore[attr-defined]
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk exited with {proc.returncode} and no result line:\n{out}\n{err}")
    return figures(json.loads(line[len(MARK):]))


def run(url: str, entries: list[tuple[str, str | None]], connections: int, seconds: float, **options) -> dict:
    return finish(start(url, entries, connections, seconds, **options))


def figures(raw: dict) -> dict:
    statuses: dict[int, int] = {}
    for pair in raw.pop("statuses"):   # one {"code": n} per thread and code
        for code, n in pair.items():
            statuses[int(code)] = statuses.get(int(code), 0) + n
    seconds = raw["duration_us"] / 1e6
    return {**raw, "statuses": statuses, "rps": raw["requests"] / seconds if seconds else 0.0,
            "p50": raw["p50_us"] / 1000, "p99": raw["p99_us"] / 1000,
            "socket_errors": raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]}

"""An open-loop HTTP/1.1 load generator: many kept-alive connections, a constant total request rate.

Closed-loop tools (wrk) send the next request only when the last one came back, so a slow server is sent
less and its queueing never shows (coordinated omission). Here request i of a client process is due at
t0 + phase + i / rate whatever happened before, and its latency is counted from that *scheduled* instant:
time spent waiting for a free connection or behind a slow server is part of it.

Each client process (multiprocessing, spawn) holds its share of the connections on uvloop, parses responses
with httptools, and sends requests built by a picklable `factory(rng) -> (kind, request bytes)`. A connection
the server closes while idle (keep-alive or header deadline) is reopened at once, so the crowd keeps its
connections, and counted. The parent opens the window for all processes at once and reads their figures.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import random
import resource
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Factory = Callable[[random.Random], tuple[str, bytes]]
CONNECT_AT_ONCE = 256   # connects in flight per process: a burst of 10,000 SYNs would overflow the listen backlog


@dataclass
class Spec:
    host: str
    port: int
    connections: int
    rate: float            # this process's requests per second
    phase: float           # seconds: spreads the processes' sends evenly in time
    warmup: float
    seconds: float
    timeout: float         # seconds from the scheduled instant after which a request counts as timed out
    factory: Factory
    seed: int


@dataclass
class Figures:
    """What the processes saw in the measured window (warm-up excluded), merged."""
    scheduled: int = 0
    latencies_ms: list[float] = field(default_factory=list)   # every answered request, and timeouts at `timeout`
    lag_ms: list[float] = field(default_factory=list)         # the generator's own lateness: dispatch - scheduled
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)          # connect, timeout, closed (no answer on a connection)
    by_kind: dict[str, list[float]] = field(default_factory=dict)   # latencies (ms) of 2xx answers per kind
    reconnects: int = 0
    opened: int = 0
    held: list[int] = field(default_factory=list)             # open connections, sampled each second

    def merge(self, other: Figures) -> Figures:
        self.scheduled += other.scheduled
        self.latencies_ms += other.latencies_ms
        self.lag_ms += other.lag_ms
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        for kind, values in other.by_kind.items():
            self.by_kind.setdefault(kind, []).extend(values)
        self.reconnects += other.reconnects
        self.opened += other.opened
        self.held = [a + b for a, b in zip(self.held, other.held, strict=False)] if self.held else list(other.held)
        return self


def schedule(t0: float, rate: float, phase: float, warmup: float, seconds: float) -> Iterator[tuple[float, bool]]:
    """(scheduled instant, in the measured window) of every request, warm-up first, at constant pacing."""
    end, window = t0 + warmup + seconds, t0 + warmup
    i = 0
    while (t := t0 + phase + i / rate) < end:
        yield t, t >= window
        i += 1


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q / 100 * len(ordered))) - 1)]


def error_kinds(figures: Figures) -> dict[str, int]:
    """Errors by kind: connect, timeout, closed, 429, 503, other 4xx, other 5xx."""
    s = figures.statuses
    return {"connect": figures.errors["connect"], "timeout": figures.errors["timeout"],
            "closed": figures.errors["closed"], "429": s[429], "503": s[503],
            "4xx": sum(n for c, n in s.items() if 400 <= c < 500 and c != 429),
            "5xx": sum(n for c, n in s.items() if c >= 500 and c != 503)}


class _Closed(Exception):
    pass


class _Conn(asyncio.Protocol):
    def __init__(self, on_lost: Callable[[_Conn], None]) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future | None = None
        self.open = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport, self.open = transport, True

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except Exception as exc:   # a malformed answer: the connection is unusable
            self._fail(exc)
            self.transport.close()

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.open = False   # `Connection: close`: not to be handed out again
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(_Closed())
        self._on_lost(self)

    def _fail(self, exc: Exception) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(exc)

    @property
    def usable(self) -> bool:
        # a transport closed by the peer is closing before connection_lost reaches us
        return self.open and not self.transport.is_closing()

    def send(self, data: bytes) -> asyncio.Future:
        if not self.usable:
            raise _Closed()
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.answer


class _Client:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        self.idle: deque[_Conn] = deque()
        self.waiting: deque[asyncio.Future] = deque()
        self.conns: set[_Conn] = set()
        self.fig = Figures()
        self.measuring = False
        self.stopping = False
        self._gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def _open(self) -> _Conn:
        async with self._gate:
            _, conn = await self.loop.create_connection(lambda: _Conn(self._lost), self.spec.host, self.spec.port)
        self.conns.add(conn)
        return conn

    async def connect(self, counted: bool = True) -> None:
        for attempt in range(3):
            try:
                self._release(await self._open())
                return
            except OSError:
                await asyncio.sleep(0.2 * (attempt + 1))
        if counted and self.measuring:
            self.fig.errors["connect"] += 1

    def _lost(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if not self.stopping and len(self.conns) < self.spec.connections:
            if self.measuring:
                self.fig.reconnects += 1
            self.loop.create_task(self.connect())

    def _release(self, conn: _Conn) -> None:
        if not conn.usable:
            return
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def _idle_conn(self) -> _Conn | None:
        while self.idle:
            conn = self.idle.popleft()
            if conn.usable:
                return conn
        return None

    async def _answer(self, answer: asyncio.Future, deadline: float) -> int:
        # a timer rather than asyncio.wait_for, which costs a task per request: the generator's CPU is the
        # machine's too, and its lag would count against the server
        def expire() -> None:
            if not answer.done():
                answer.set_exception(TimeoutError())

        timer = self.loop.call_at(deadline, expire)
        try:
            return await answer
        finally:
            timer.cancel()

    async def _take(self) -> _Conn:
        if conn := self._idle_conn():
            return conn
        waiter = self.loop.create_future()
        self.waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:   # timed out just as a connection was handed over: keep it in the pool
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            raise

    async def request(self, due: float, measured: bool, kind: str, data: bytes) -> None:
        deadline = due + self.spec.timeout
        status, error = None, None
        for attempt in range(3):
            # the server closed a kept-alive connection just as we sent: again, as HTTP clients do, the last
            # time on a connection of its own (so "closed" means a fresh connection was dropped mid-request)
            conn = None
            try:
                if attempt < 2:
                    conn = self._idle_conn() or await asyncio.wait_for(self._take(), deadline - self.loop.time())
                else:
                    try:
                        conn = await asyncio.wait_for(self._open(), deadline - self.loop.time())
                    except OSError:
                        error = "connect"
                        break
                status = await self._answer(conn.send(data), deadline)
                self._release(conn)
                error = None
                break
            except (_Closed, OSError, RuntimeError):   # RuntimeError: uvloop's write on a closed transport
                error = "closed"
            except TimeoutError:
                error = "timeout"
                if conn is not None and conn.transport is not None:
                    conn.transport.close()   # its answer may still come: the connection is out of step
                break
        if not measured:
            return
        done = self.loop.time()
        if error:
            self.fig.errors[error] += 1
            if error == "timeout":
                self.fig.latencies_ms.append(self.spec.timeout * 1000)
            return
        self.fig.statuses[status] += 1
        self.fig.latencies_ms.append((done - due) * 1000)
        if 200 <= status < 300:
            self.fig.by_kind.setdefault(kind, []).append((done - due) * 1000)

    async def run(self, t0: float) -> None:
        rng = random.Random(self.spec.seed)
        tasks: set[asyncio.Task] = set()
        sampler = self.loop.create_task(self._sample(t0 + self.spec.warmup, t0 + self.spec.warmup + self.spec.seconds))
        for due, measured in schedule(t0, self.spec.rate, self.spec.phase, self.spec.warmup, self.spec.seconds):
            if due > self.loop.time():
                await asyncio.sleep(due - self.loop.time())
            if measured and not self.measuring:
                self.measuring = True
            if measured:
                self.fig.scheduled += 1
                self.fig.lag_ms.append((self.loop.time() - due) * 1000)
            kind, data = self.spec.factory(rng)
            task = self.loop.create_task(self.request(due, measured, kind, data))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        await sampler
        self.stopping = True
        for conn in list(self.conns):
            conn.transport.close()

    async def _sample(self, start: float, end: float) -> None:
        await asyncio.sleep(max(0.0, start - self.loop.time()))
        while self.loop.time() < end:
            self.fig.held.append(len(self.conns))
            await asyncio.sleep(1.0)


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _process(spec: Spec, pipe) -> None:
    import uvloop

    _raise_file_limit()

    async def main() -> Figures:
        client = _Client(spec)
        await asyncio.gather(*(client.connect(counted=False) for _ in range(spec.connections)))
        client.fig.opened = len(client.conns)
        pipe.send(("ready", len(client.conns)))
        t0 = pipe.recv()
        await client.run(t0)
        return client.fig

    pipe.send(("figures", uvloop.run(main())))


def run(host: str, port: int, factory: Factory, connections: int, rate: float, seconds: float, warmup: float = 5,
        processes: int = 2, timeout: float = 30, on_ready: Callable[[int], None] | None = None,
        on_window: Callable[[str], None] | None = None, seed: int = 1) -> Figures:
    """Offer `rate` req/s over `connections` kept-alive connections for `seconds` after `warmup` seconds, from
    `processes` processes. `on_ready(open connections)` runs once all are connected; `on_window("start")` as
    the measured window opens, `on_window("end")` once every request of it is answered or timed out (the
    caller's CPU readings then cover the work those requests caused)."""
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    per_rate = rate / processes
    for p in range(processes):
        ours, theirs = ctx.Pipe()
        spec = Spec(host, port, connections // processes + (p < connections % processes), per_rate,
                    phase=p / rate, warmup=warmup, seconds=seconds, timeout=timeout, factory=factory, seed=seed + p)
        proc = ctx.Process(target=_process, args=(spec, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    try:
        opened = sum(pipe.recv()[1] for pipe in pipes)
        if on_ready:
            on_ready(opened)
        t0 = time.monotonic() + 0.5   # CLOCK_MONOTONIC is one clock for every process of the machine
        for pipe in pipes:
            pipe.send(t0)
        time.sleep(max(0.0, t0 + warmup - time.monotonic()))
        if on_window:
            on_window("start")
        merged = Figures()
        for pipe in pipes:
            merged.merge(pipe.recv()[1])
        if on_window:
            on_window("end")
        return merged
    finally:
        for proc in procs:
            proc.join(timeout=timeout + 10)
            if proc.is_alive():
                proc.kill()
                proc.join()

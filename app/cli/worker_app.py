"""The web app as `crm serve`'s worker processes import it: built, then frozen out of the garbage collector, and the
collector itself told to run seldom.

A worker imports much (the app, its models, the scoring stack) and keeps all of it until it exits. Python's
cyclic collector would scan those objects again in every full collection, and a request allocates enough to
set one off often: profiling a worker under writes showed a fifth of its CPU in `gc_collect_main`.
`gc.freeze()` moves everything alive after start-up into a generation the collector never scans, so it only
looks at what requests created. Only here: a test process that builds many apps keeps collecting them.

What requests and connections create still set the collector off hundreds of times a minute. Counted with
`gc.callbacks` in a worker of bench/load.py's crowd (10,000 kept-alive connections, 1,000 req/s): 594 young, 53
middle and 4 full collections took 5.2 s of its CPU over the run, about a twentieth, and found 31 objects to free
in all (requests' objects are freed by their reference counts). With the young generation's threshold at 50,000
objects instead of 700 the same run made 4 young collections and no other, 0.3 s in all. Garbage cycles are
still collected, only later.
"""

import gc

from app.web import app

GC_THRESHOLDS = (50_000, 20, 20)   # CPython's defaults: (700, 10, 10)

gc.collect()
gc.freeze()
gc.set_threshold(*GC_THRESHOLDS)

__all__ = ["app"]

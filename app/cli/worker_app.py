"""The web app as `crm serve`'s worker processes import it: built, then frozen out of the garbage collector.

A worker imports much (the app, its models, the scoring stack) and keeps all of it until it exits. Python's
cyclic collector would scan those objects again in every full collection, and a request allocates enough to
set one off often: profiling a worker under writes showed a fifth of its CPU in `gc_collect_main`.
`gc.freeze()` moves everything alive after start-up into a generation the collector never scans, so it only
looks at what requests created. Only here: a test process that builds many apps keeps collecting them.
"""

import gc

from app.web import app

gc.collect()
gc.freeze()

__all__ = ["app"]

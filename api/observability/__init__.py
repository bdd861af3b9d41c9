"""Seen, not guessed: request ids, one JSON access log line per request (tenant, key, database time), and
Prometheus metrics at GET /metrics (requests, latency, database time, pools, queues, scores served).

Modules: `install` (the /metrics route and the wrapping of the app), `middleware`, `metrics` (with
`register_pool` for pools other slices open), `queues`, `access_log`, `multiprocess` (imports no metric:
`crm serve` calls it before the app is imported, so nothing here imports the metrics eagerly).

/metrics needs no API key (operators scrape it) and shows no tenant data: tenants appear as ids in labels.
"""

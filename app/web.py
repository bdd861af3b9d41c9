"""The one web app: the API (api.main) with the dashboard (dashboards.app) mounted on it.

`crm serve`, the tests and the benches serve this; the API alone is `api.main.create_app()`.
"""

from functools import cache

from fastapi import FastAPI

from api.main import create_app as create_api
from dashboards.app import install_dashboard
from pipelines.lib.live_sql import feature_queries


def create_app() -> FastAPI:
    app = create_api()
    # The features' live SQL, generated from the dbt models (compiled once, then read from dbt/target) for
    # `?fresh=true`; a cached call per process, so a request never hashes the dbt project.
    app.state.feature_queries = cache(feature_queries)
    # Pages at /, static files, session cookie + CSRF middleware. The API's security headers still cover
    # every response: they wrap the middleware stack when it is built, after this.
    install_dashboard(app)
    return app


app = create_app()

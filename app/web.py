"""The one web app: the API (api.main) with the dashboard (dashboards.app) mounted on it.

`crm serve`, the tests and the benches serve this; the API alone is `api.main.create_app()`.
"""

from fastapi import FastAPI

from api.main import create_app as create_api
from dashboards.app import install_dashboard


def create_app() -> FastAPI:
    app = create_api()
    # Pages at /, static files, session cookie + CSRF middleware. The API's security headers still cover
    # every response: they wrap the middleware stack when it is built, after this.
    install_dashboard(app)
    return app


app = create_app()

"""One settings object for the whole product, read from the environment (prefix-free names).

No secret has a public default: an unset one is generated randomly into `$CRM_HOME` the first time it is
read, and every later process on the machine reads the same file. Reading lazily (not when Settings is
built) keeps importing the app free of side effects: tests point CRM_HOME elsewhere before first use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    crm_home: Path = Field(default=Path(".crm"), description="State directory (embedded Postgres, DuckDB, ...)")
    database_url: str | None = Field(default=None, description="External PostgreSQL; unset = embedded")
    crm_app_db_password: str | None = Field(default=None, repr=False,
                                            description="Password of the crm_app login role; unset = generated "
                                                        "into $CRM_HOME/app_db_password (read `app_db_password`)")
    mlflow_tracking_uri: str | None = None
    crm_env: Literal["development", "test", "production"] = "development"
    crm_secret_key: str | None = Field(default=None, repr=False,
                                       description="Signs dashboard session cookies; unset = generated into "
                                                   "$CRM_HOME/secret_key (read `session_secret`)")
    crm_llm: str | None = Field(default=None, description="LangChain chat model, e.g. 'ollama:llama3'")
    crm_warehouse: Literal["duckdb", "postgres"] = "duckdb"
    crm_header_timeout: float = Field(default=10, gt=0, description="`crm serve`: seconds to receive a request's "
                                      "headers (from connection or request start) before closing the connection")
    crm_body_timeout: float = Field(default=30, gt=0, description="`crm serve`: seconds to receive a request's "
                                    "body after its headers before answering 408 and closing")
    crm_rate_key_per_s: float = Field(default=100, gt=0, description="Requests per second one API key may make "
                                      "(bursts of twice that); over it: 429 with Retry-After")
    crm_rate_tenant_per_s: float = Field(default=1000, gt=0, description="Requests per second all of an agency's "
                                         "API keys together may make (bursts of twice that)")
    crm_refusal_delay: float = Field(default=1.0, ge=0, description="Seconds an API 429 (rate limit) is held "
                                     "before it is sent (0: at once); slows a client flooding over N connections "
                                     "to about N refusals per delay")
    crm_max_held_refusals: int = Field(default=2000, ge=0, description="Refusals one worker holds for "
                                       "CRM_REFUSAL_DELAY at once; past it, answered at once")
    crm_max_in_flight: int = Field(default=100, gt=0, description="API requests one worker process handles at "
                                   "once; one more is answered 503 with Retry-After at once (load shedding)")
    crm_queue_timeout: float = Field(default=5.0, gt=0, description="Seconds a request may wait for a database "
                                     "slot before it is answered 503 with Retry-After (overload)")
    # outbound webhooks (crm.webhooks): the SSRF rule, retries and when a failing endpoint is switched off
    crm_webhook_allow_private_targets: bool = Field(default=False, description="Allow webhook URLs whose host "
                                                    "resolves to a loopback, private, link-local or otherwise "
                                                    "non-public address (a receiver on this machine or LAN)")
    crm_webhook_backoff_seconds: float = Field(default=30, gt=0, description="Wait before a failed delivery's "
                                               "first retry; doubled at each further attempt (plus up to 10% "
                                               "jitter)")
    crm_webhook_max_attempts: int = Field(default=8, ge=1, description="Attempts of one delivery before it is "
                                          "marked dead")
    crm_webhook_disable_after: int = Field(default=20, ge=1, description="Failed delivery attempts in a row "
                                           "after which a subscription is disabled (with its reason)")
    crm_webhook_timeout_seconds: float = Field(default=10, gt=0, description="Seconds one delivery's HTTP call "
                                               "may take (connect, send, answer)")

    @property
    def session_secret(self) -> str:
        return self.crm_secret_key or state_secret(self.home / "secret_key")

    @property
    def app_db_password(self) -> str:
        return self.crm_app_db_password or state_secret(self.home / "app_db_password")

    @property
    def home(self) -> Path:
        return self.crm_home.expanduser().resolve()

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def lancedb_dir(self) -> Path:
        return self.home / "lancedb"

    @property
    def ground_truth_dir(self) -> Path:
        return self.home / "ground_truth"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"


def state_secret(path: Path) -> str:
    """The secret stored at `path`, generated (256 bits, mode 0600) if the file does not exist yet.

    Processes starting together (uvicorn workers, Dagster, the CLI) must agree on one value: each writes a
    complete candidate to a private temporary file and hard-links it into place; link() refuses to replace
    an existing file, so the first one wins and everyone reads it. A reader never sees a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its secret
                os.link(candidate, path)
        finally:
            os.unlink(candidate)
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to have a new secret generated, or set it in the environment")
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings and engines (tests switch CRM_HOME between sessions)."""
    get_settings.cache_clear()
    from crm.db import engine

    engine.dispose_engines()

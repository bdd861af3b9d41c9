"""One settings object for the whole product, read from the environment (prefix-free names)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    crm_home: Path = Field(default=Path(".crm"), description="State directory (embedded Postgres, DuckDB, ...)")
    database_url: str | None = Field(default=None, description="External PostgreSQL; unset = embedded")
    crm_app_db_password: str = Field(default="crm_app", description="Password of the crm_app login role")
    mlflow_tracking_uri: str | None = None
    crm_env: Literal["development", "test", "production"] = "development"
    crm_secret_key: str = DEV_SECRET
    crm_llm: str | None = Field(default=None, description="LangChain chat model, e.g. 'ollama:llama3'")
    crm_warehouse: Literal["duckdb", "postgres"] = "duckdb"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.crm_env == "production" and (
            self.crm_secret_key == DEV_SECRET or self.crm_app_db_password == "crm_app"
        ):
            raise ValueError(
                "CRM_SECRET_KEY and CRM_APP_DB_PASSWORD must be set to real secrets when CRM_ENV=production"
            )
        return self

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


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings and engines (tests switch CRM_HOME between sessions)."""
    get_settings.cache_clear()
    from crm.db import engine

    engine.dispose_engines()

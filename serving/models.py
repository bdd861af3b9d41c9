"""Champion models, loaded once per process and swapped when the registry's `champion` alias moves.

The alias is re-checked at most every `refresh_seconds` (one indexed query on the MLflow store), so a
request never pays for a model load unless a new champion was promoted since the last check.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import lightgbm as lgb
import numpy as np

from crm.model_bundle import ModelBundle
from crm.settings import get_settings

log = logging.getLogger(__name__)
CHAMPION = "champion"
LEAD_MODEL, ACCOUNT_MODEL = "lead_score", "churn_risk"
# A web server runs many requests at once on few cores: one thread per prediction avoids oversubscription.
SERVING_THREADS = 1


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    booster: lgb.Booster
    bundle: ModelBundle

    def margin(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x, raw_score=True, num_threads=SERVING_THREADS)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x, pred_contrib=True, num_threads=SERVING_THREADS)


def _store_exists() -> bool:
    """Never create an MLflow store from the serving path (creating a sqlite store takes seconds)."""
    uri = get_settings().mlflow_uri
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        return Path(uri.removeprefix("sqlite:///")).exists()
    return True


def champion_version(name: str) -> str | None:
    if not _store_exists():
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = get_settings().mlflow_uri
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def load_version(name: str, version: str) -> LoadedModel:
    import mlflow

    uri = get_settings().mlflow_uri
    # MLflow 3 resolves a registered version through its logged model in the tracking store: both URIs,
    # or a fresh process falls back to ./mlflow.db
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model_uri = f"models:/{name}/{version}"
    booster = mlflow.lightgbm.load_model(model_uri)
    bundle = ModelBundle.from_metadata(mlflow.models.get_model_info(model_uri).metadata)
    return LoadedModel(name=name, version=str(version), booster=booster, bundle=bundle)


class ChampionModels:
    """Per-process cache of champion models, keyed by registered name."""

    def __init__(self, refresh_seconds: float = 30.0):
        self.refresh_seconds = refresh_seconds
        self._models: dict[str, LoadedModel] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was actually loaded (observability, tests)

    def get(self, name: str) -> LoadedModel | None:
        now = time.monotonic()
        current = self._models.get(name)
        if current is not None and now - self._checked.get(name, 0.0) < self.refresh_seconds:
            return current
        with self._lock:
            current = self._models.get(name)
            if current is not None and now - self._checked.get(name, 0.0) < self.refresh_seconds:
                return current
            version = champion_version(name)
            self._checked[name] = now
            if version is None:
                self._models.pop(name, None)
                return None
            if current is None or current.version != version:
                log.info("loading %s version %s (champion)", name, version)
                self._models[name] = load_version(name, version)
                self.loads += 1
            return self._models[name]

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._checked.clear()


@lru_cache
def champions() -> ChampionModels:
    return ChampionModels()

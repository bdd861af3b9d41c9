"""The logistic-regression baseline, fitted on exactly the same split and features as LightGBM."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from crm.model_bundle import ModelBundle


def _frame(rows: pl.DataFrame, bundle: ModelBundle):
    numeric = [f for f in bundle.features if f not in bundle.categorical]
    cats = list(bundle.categorical)
    casts = [pl.col(c).cast(pl.Float64) for c in numeric] + [pl.col(c).cast(pl.Utf8).fill_null("(missing)")
                                                            for c in cats]
    return rows.select(casts).to_pandas(), numeric, cats


def fit_baseline(train: pl.DataFrame, y: np.ndarray, bundle: ModelBundle, seed: int) -> Pipeline:
    frame, numeric, cats = _frame(train, bundle)
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                              StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
    ])
    model = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=2000, C=1.0, random_state=seed))])
    return model.fit(frame, y)


def predict_baseline(model: Pipeline, rows: pl.DataFrame, bundle: ModelBundle) -> np.ndarray:
    frame, _, _ = _frame(rows, bundle)
    return model.predict_proba(frame)[:, 1]

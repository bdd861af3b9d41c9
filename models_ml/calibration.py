"""Calibration check and correction, fitted on the validation split and stored as plain numbers."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from crm.model_bundle import calibrate, sigmoid
from models_ml.metrics import expected_calibration_error

# Isotonic needs enough positives per step to be smooth; below this Platt scaling (2 parameters) is safer.
MIN_POSITIVES_FOR_ISOTONIC = 200


def fit_isotonic(prob: np.ndarray, y: np.ndarray) -> dict:
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(prob, y)
    return {"kind": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def fit_platt(margin: np.ndarray, y: np.ndarray) -> dict:
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
    return {"kind": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def choose_calibration(margin: np.ndarray, y: np.ndarray, mode: str, tolerance: float) -> tuple[dict, dict]:
    """The calibration to ship and a report: raw ECE, and the corrected ECE when a correction was fitted.

    'auto' keeps the raw probabilities when their validation ECE is within `tolerance`; otherwise it fits
    isotonic (enough positives) or Platt scaling and keeps it only if it lowers the validation ECE.
    """
    raw = sigmoid(margin)
    report = {"ece_raw_val": expected_calibration_error(y, raw)}
    if mode == "none" or (mode == "auto" and report["ece_raw_val"] <= tolerance):
        return {"kind": "none"}, {**report, "calibration": "none"}
    positives = int(np.sum(y))
    if mode == "isotonic" or (mode == "auto" and positives >= MIN_POSITIVES_FOR_ISOTONIC):
        fitted = fit_isotonic(raw, y)
    else:
        fitted = fit_platt(margin, y)
    report["ece_corrected_val"] = expected_calibration_error(y, calibrate(fitted, margin))
    if mode == "auto" and report["ece_corrected_val"] >= report["ece_raw_val"]:
        return {"kind": "none"}, {**report, "calibration": "none"}
    return fitted, {**report, "calibration": fitted["kind"]}

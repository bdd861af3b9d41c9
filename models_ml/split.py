"""Time split: train on older snapshots, validate and test on the newest; never across time at random."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from models_ml.config import TrainConfig


@dataclass
class TimeSplit:
    train: pl.DataFrame
    val: pl.DataFrame
    test: pl.DataFrame

    def lineage(self, label: str) -> dict[str, str | int]:
        out: dict[str, str | int] = {}
        for part in ("train", "val", "test"):
            frame: pl.DataFrame = getattr(self, part)
            out[f"{part}_rows"] = frame.height
            out[f"{part}_positives"] = int(frame[label].cast(pl.Int64).sum())
            out[f"{part}_as_of_min"] = str(frame["as_of_date"].min())
            out[f"{part}_as_of_max"] = str(frame["as_of_date"].max())
            out[f"{part}_tenants"] = frame["tenant_id"].n_unique()
        return out


def time_split(frame: pl.DataFrame, cfg: TrainConfig) -> TimeSplit:
    """Split labelled rows by as_of_date: train ... [gap] validation [gap] test.

    Test is the newest `test_periods` labelled as_of_dates. Validation is the newest `val_periods` dates
    whose whole label horizon (`purge` days) ends by the first test date; training is every date whose
    horizon ends by the first validation date. Dates in the gaps are dropped: their labels were observed
    inside the next window, so training on them would leak that window's outcomes.
    """
    labelled = frame.filter(pl.col(cfg.label).is_not_null())
    dates = sorted(labelled["as_of_date"].unique().to_list())
    purge = dt.timedelta(days=cfg.purge)
    if len(dates) < cfg.test_periods:
        raise ValueError(f"{cfg.table}: only {len(dates)} labelled as_of_dates; run the pipeline on more history")
    test_dates = dates[-cfg.test_periods:]
    val_dates = [d for d in dates if d + purge <= test_dates[0]][-cfg.val_periods:]
    train_dates = [d for d in dates if val_dates and d + purge <= val_dates[0]]
    if not val_dates or not train_dates:
        raise ValueError(
            f"{cfg.table}: not enough history for a purged time split (labelled as_of_dates {dates[0]} .. "
            f"{dates[-1]}; test {cfg.test_periods}, validation {cfg.val_periods}, purge {cfg.purge} days)")

    def rows(ds: list[dt.date]) -> pl.DataFrame:
        return labelled.filter(pl.col("as_of_date").is_in(ds))

    return TimeSplit(train=rows(train_dates), val=rows(val_dates), test=rows(test_dates))

"""Time split: train on older snapshots, validate and test on the newest; never across time at random.

The split adapts to the history there is: it tries the configured number of test and validation month-ends,
then fewer, down to one of each (the purge always equals the label horizon), and names the split it used.
When even the smallest purged split is impossible it raises `NotEnoughHistory` with a reason for people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from models_ml.config import TrainConfig


class NotEnoughHistory(ValueError):
    """The labelled rows cannot make a purged time split with both classes in every part."""

    def __init__(self, table: str, reason: str):
        super().__init__(f"{table}: not enough history for a purged time split: {reason}")
        self.table, self.reason = table, reason


@dataclass
class TimeSplit:
    train: pl.DataFrame
    val: pl.DataFrame
    test: pl.DataFrame
    name: str = ""          # e.g. "2+2 purged": test + validation month-ends
    purge_days: int = 0

    def lineage(self, label: str) -> dict[str, str | int]:
        out: dict[str, str | int] = {"split": self.name, "split_purge_days": self.purge_days}
        for part in ("train", "val", "test"):
            frame: pl.DataFrame = getattr(self, part)
            out[f"{part}_rows"] = frame.height
            out[f"{part}_positives"] = int(frame[label].cast(pl.Int64).sum())
            out[f"{part}_as_of_min"] = str(frame["as_of_date"].min())
            out[f"{part}_as_of_max"] = str(frame["as_of_date"].max())
            out[f"{part}_periods"] = frame["as_of_date"].n_unique()
            out[f"{part}_tenants"] = frame["tenant_id"].n_unique()
        return out


def split_ladder(test_periods: int, val_periods: int) -> list[tuple[int, int]]:
    """(test, validation) month-end counts to try, largest first, down to (1, 1). At equal size the test
    window keeps its months: the promotion gate compares models there, and fewer test rows make it noisier."""
    pairs = {(t, v) for t in range(1, max(test_periods, 1) + 1) for v in range(1, max(val_periods, 1) + 1)}
    return sorted(pairs, key=lambda p: (-(p[0] + p[1]), -p[0]))


def _dates_for(dates: list[dt.date], test_n: int, val_n: int, purge: dt.timedelta):
    """(train, val, test) dates: test the newest `test_n`; validation the newest `val_n` whose horizon ends
    by the first test date; train every date whose horizon ends by the first validation date."""
    test = dates[-test_n:] if len(dates) >= test_n else []
    val = [d for d in dates if test and d + purge <= test[0]][-val_n:]
    train = [d for d in dates if val and d + purge <= val[0]]
    return train, val, test


def _class_shortfall(rows: pl.DataFrame, label: str, minimum: int) -> str | None:
    positives = int(rows[label].cast(pl.Int64).sum())
    negatives = rows.height - positives
    if positives < minimum or negatives < minimum:
        return f"{positives} positive and {negatives} negative rows (each needs >= {minimum})"
    return None


def time_split(frame: pl.DataFrame, cfg: TrainConfig) -> TimeSplit:
    """Split labelled rows by as_of_date: train ... [gap] validation [gap] test, the largest split that fits.

    Dates in the gaps are dropped: their labels were observed inside the next window, so training on them
    would leak that window's outcomes. Each part must hold at least `cfg.min_per_class` rows of each class.
    """
    labelled = frame.filter(pl.col(cfg.label).is_not_null())
    if labelled.height == 0:
        raise NotEnoughHistory(cfg.table, "no labelled rows (no entities of this kind, or no label horizon "
                                          "has ended inside the data yet)")
    shortfall = _class_shortfall(labelled, cfg.label, cfg.min_per_class)
    if shortfall:
        raise NotEnoughHistory(cfg.table, f"all {labelled.height} labelled rows hold {shortfall}: "
                                          "both outcomes must have been observed")
    dates = sorted(labelled["as_of_date"].unique().to_list())
    purge = dt.timedelta(days=cfg.purge)
    tried: list[str] = []
    for test_n, val_n in split_ladder(cfg.test_periods, cfg.val_periods):
        name = f"{test_n}+{val_n} purged"
        train_d, val_d, test_d = _dates_for(dates, test_n, val_n, purge)
        if not (train_d and val_d and test_d):
            tried.append(f"{name}: too few month-ends")
            continue
        parts = {p: labelled.filter(pl.col("as_of_date").is_in(ds))
                 for p, ds in (("train", train_d), ("val", val_d), ("test", test_d))}
        short = [f"{p} has {s}" for p, rows in parts.items()
                 if (s := _class_shortfall(rows, cfg.label, cfg.min_per_class))]
        if short:
            tried.append(f"{name}: {'; '.join(short)}")
            continue
        return TimeSplit(train=parts["train"], val=parts["val"], test=parts["test"], name=name,
                         purge_days=cfg.purge)
    raise NotEnoughHistory(
        cfg.table, f"{len(dates)} labelled month-ends ({dates[0]} .. {dates[-1]}) with a {cfg.purge}-day purge; "
                   f"tried {' | '.join(tried)}. The smallest split needs a training month-end, then a validation "
                   f"one {cfg.purge} days later, then a test one {cfg.purge} days after that, each with both "
                   "outcomes: import more history or wait for more month-ends")

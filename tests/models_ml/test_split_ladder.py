"""The time split adapts to the history there is: largest purged split first, down to 1 + 1, then a reason."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from models_ml.config import lead_config
from models_ml.split import NotEnoughHistory, split_ladder, time_split
from tests.ml_support import lead_frame

LABEL = "converted_90d"


def _newest(frame: pl.DataFrame, months: int) -> pl.DataFrame:
    """Only the newest `months` labelled month-ends (and the unlabelled ones after them)."""
    dates = sorted(frame.filter(pl.col(LABEL).is_not_null())["as_of_date"].unique().to_list())
    return frame.filter(pl.col("as_of_date") >= dates[-months])


def test_ladder_goes_from_the_configured_split_down_to_one_and_one():
    assert split_ladder(2, 2) == [(2, 2), (2, 1), (1, 2), (1, 1)]
    assert split_ladder(3, 1) == [(3, 1), (2, 1), (1, 1)]
    assert split_ladder(1, 1) == [(1, 1)]


def test_split_shrinks_with_history_and_never_leaks():
    cfg = lead_config()
    frame = lead_frame(sizes=(80, 40))
    purge = dt.timedelta(days=cfg.purge)
    sizes = {}
    for months in range(13, 0, -1):
        try:
            split = time_split(_newest(frame, months), cfg)
        except NotEnoughHistory as exc:
            sizes[months] = None
            assert "purge" in exc.reason and exc.table == "lead_features"
            continue
        sizes[months] = split.name
        assert split.purge_days == cfg.horizon_days
        assert split.train["as_of_date"].max() + purge <= split.val["as_of_date"].min()
        assert split.val["as_of_date"].max() + purge <= split.test["as_of_date"].min()
        lineage = split.lineage(LABEL)
        assert lineage["split"] == split.name and lineage["train_positives"] > 0
        test_n, val_n = (int(n) for n in split.name.split()[0].split("+"))
        assert (lineage["test_periods"], lineage["val_periods"]) == (test_n, val_n)
    assert sizes[13] == "2+2 purged"
    ladder = [f"{t}+{v} purged" for t, v in split_ladder(2, 2)] + [None]
    seen = [sizes[m] for m in range(13, 0, -1)]
    assert [ladder.index(s) for s in seen] == sorted(ladder.index(s) for s in seen)  # only ever smaller
    assert "1+1 purged" in seen and "2+2 purged" in seen and None in seen
    # the smallest purged split: a training, a validation and a test month-end, each a horizon apart
    assert sizes[max(m for m, s in sizes.items() if s is None)] is None
    assert all(sizes[m] is None for m in range(1, 6))


def test_each_part_must_hold_both_classes():
    cfg = lead_config(min_per_class=5)
    frame = _newest(lead_frame(sizes=(80, 40)), 13)
    newest = frame.filter(pl.col(LABEL).is_not_null())["as_of_date"].max()
    # the newest month-end has no conversion: a 1-month test window would hold one class; 2 months still fit
    no_positives = frame.with_columns(
        pl.when(pl.col("as_of_date") == newest).then(0).otherwise(pl.col(LABEL)).cast(pl.Int8).alias(LABEL))
    assert time_split(no_positives, cfg).name == "2+2 purged"
    short = _newest(no_positives, 8)  # only 1+1 fits this history, and its test month is one class
    with pytest.raises(NotEnoughHistory, match="test has 0 positive"):
        time_split(short, cfg)


def test_no_rows_or_one_outcome_is_not_enough_history():
    cfg = lead_config()
    frame = lead_frame(sizes=(30,))
    with pytest.raises(NotEnoughHistory, match="no labelled rows"):
        time_split(frame.head(0), cfg)
    with pytest.raises(NotEnoughHistory, match="both outcomes"):
        time_split(frame.with_columns(pl.lit(0, dtype=pl.Int8).alias(LABEL)), cfg)
    few = frame.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(1).otherwise(0).cast(pl.Int8).alias(LABEL))
    with pytest.raises(NotEnoughHistory, match="3 positive"):
        time_split(few, cfg)

"""Feature rows as `crm.scores` stores them: one per entity, NaN as null, no tenant or label column."""

import datetime as dt
import json

import polars as pl

from serving.publication import feature_records


def test_feature_records_carry_every_feature_with_nan_as_null_and_no_tenant_or_label():
    frame = pl.DataFrame({
        "tenant_id": ["t1", "t1"], "contact_id": ["c1", "c2"], "as_of_date": [dt.date(2026, 11, 30)] * 2,
        "emails_30d": [3, None], "reply_rate": [float("nan"), 0.5], "industry": ["software", None],
        "last_touch_at": [dt.datetime(2026, 11, 29, 8), None], "converted_90d": [None, None],
    })
    published = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    rows = feature_records(frame, "contact_id", published)
    assert [(r["entity_id"], r["as_of_date"], r["published_at"]) for r in rows] == [
        ("c1", dt.date(2026, 11, 30), published), ("c2", dt.date(2026, 11, 30), published)]
    assert [r["features"] for r in rows] == [
        json.dumps({"emails_30d": 3, "reply_rate": None, "industry": "software",
                    "last_touch_at": "2026-11-29 08:00:00"}),
        json.dumps({"emails_30d": None, "reply_rate": 0.5, "industry": None, "last_touch_at": None})]
    assert feature_records(frame.clear(), "contact_id", published) == []

"""The Dagster entry point: `dagster dev -m pipelines.definitions`.

Each domain folder in pipelines/defs/ exposes `defs`; adding a domain is adding its name here.
"""

from importlib import import_module

from dagster import Definitions

DOMAINS = ("ingest", "transform", "publish", "ml", "serving")

defs = Definitions.merge(*(import_module(f"pipelines.defs.{domain}").defs for domain in DOMAINS))

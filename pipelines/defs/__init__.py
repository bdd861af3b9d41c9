"""One folder per domain; each exposes `defs` (a dagster.Definitions) from its __init__."""

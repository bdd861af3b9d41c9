"""Workflows per agency: the definition language, runs and their checkpoints (the engine is serving.workflows)."""

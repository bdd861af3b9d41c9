"""Helpers of the Dagster project that are not definitions themselves."""

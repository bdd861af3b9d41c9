"""Data-platform plumbing as plain functions: extract PostgreSQL -> DuckDB, landing files, publish back."""

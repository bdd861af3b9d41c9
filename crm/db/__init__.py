"""PostgreSQL: embedded server, engines, tenant-scoped sessions, schema and migrations."""

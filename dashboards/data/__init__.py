"""Read models for the pages: plain functions taking a tenant Session (RLS scopes every query)."""

"""Retrieval over a tenant's notes, emails, call/meeting summaries and support tickets (LanceDB)."""

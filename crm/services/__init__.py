"""The domain services: the one write path for CRM records and their rules.

One module per aggregate (companies, contacts, deals, pipelines, activities, notes, tasks, campaigns), each
a set of plain functions over a tenant-bound Session (the caller resolved the tenant; RLS isolates it) and
the typed inputs of `crm.schemas`, returning the ORM row. API routes, dashboard forms, the CSV import and
event ingestion all write through them, so every rule (a deal's status follows its stage, churn stamps,
done stamps, authors, the one default pipeline) has exactly one owner, and every write passes through
`crm.services.changes.record` once. They raise `crm.services.errors`, never an HTTP error.
"""

"""FastAPI application: REST API under /api/v1, the dashboard mounted at /."""

"""Alembic environment: runs on the admin connection handed over by crm.db.migrate."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()

"""Intelligence CRM core: settings, state directory, database, tenancy and the `crm` CLI."""

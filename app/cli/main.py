"""The `crm` command. Upper layers (api, pipelines, demo) are imported inside their commands."""

import typer

from app.cli import access, demo, imports, pipeline, refresher, serve, tenants, workflows

app = typer.Typer(help="Intelligence CRM: multi-tenant CRM and data platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(tenants.tenant_app, name="tenant")
app.add_typer(tenants.apikey_app, name="apikey")
tenants.apikey_app.command("list")(access.list_keys)
tenants.apikey_app.command("rotate")(access.rotate_key)
tenants.apikey_app.command("revoke")(access.revoke_key)
app.add_typer(access.user_app, name="user")
app.add_typer(pipeline.pipeline_app, name="pipeline")
app.command("serve")(serve.serve)
app.command("refresher")(refresher.refresher)
app.command("workflows")(workflows.workflows)
app.command("demo")(demo.demo)
app.command("import")(imports.import_file)
app.command("migrate")(tenants.migrate_cmd)

if __name__ == "__main__":
    app()

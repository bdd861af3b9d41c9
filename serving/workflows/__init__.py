"""The workflow engine and worker: LangGraph graphs over the definitions of `crm.workflows`, their steps, the
runner that executes due runs across agencies, and the triggers that start runs."""

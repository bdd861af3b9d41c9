"""The insights agent: plan the question, call tools bound to the asking tenant, compose a cited answer.

`ask(records, llm)` is the one insights path (POST /api/v1/insights, the Insights page, record pages)."""

from serving.insights_agent.graph import ask

__all__ = ["ask"]

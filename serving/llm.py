"""The optional chat model: `CRM_LLM` (e.g. 'ollama:llama3', 'openai:gpt-4o-mini') through LangChain.

Unset (the default) means no model: answers are extractive and need no network. The model is built once
per process; the provider's LangChain package must be installed by whoever sets CRM_LLM.
"""

from __future__ import annotations

from functools import lru_cache

from crm.settings import get_settings


@lru_cache(maxsize=2)
def _build(spec: str):
    from langchain.chat_models import init_chat_model

    return init_chat_model(spec, temperature=0)


def get_chat_model():
    """The configured chat model, or None when CRM_LLM is unset."""
    spec = get_settings().crm_llm
    return _build(spec) if spec else None

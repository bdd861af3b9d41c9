"""Serving: champion models, explanations, retrieval and sentiment, loaded once per process."""

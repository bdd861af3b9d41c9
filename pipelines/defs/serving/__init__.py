from dagster import Definitions

from pipelines.defs.serving.assets import live_scores, rag_index

defs = Definitions(assets=[rag_index, live_scores])

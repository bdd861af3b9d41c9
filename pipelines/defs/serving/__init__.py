from dagster import Definitions

from pipelines.defs.serving.assets import rag_index

defs = Definitions(assets=[rag_index])

from dagster import Definitions

from pipelines.defs.ml.assets import ML_ASSETS

defs = Definitions(assets=ML_ASSETS)

from dagster import Definitions

from pipelines.defs.ml.assets import ML_ASSETS
from pipelines.defs.ml.choice import CHOICE_ASSETS

defs = Definitions(assets=[*ML_ASSETS, *CHOICE_ASSETS])

from dagster import Definitions

from pipelines.defs.publish.assets import PUBLISH_ASSETS

defs = Definitions(assets=PUBLISH_ASSETS)

from dagster import Definitions

from pipelines.defs.transform.assets import crm_dbt_models
from pipelines.defs.transform.resources import RESOURCES

defs = Definitions(assets=[crm_dbt_models], resources=RESOURCES)

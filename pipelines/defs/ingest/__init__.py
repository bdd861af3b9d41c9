from dagster import Definitions

from pipelines.defs.ingest.assets import landing_activities, raw_crm_tables, text_sentiment
from pipelines.defs.ingest.resources import RESOURCES
from pipelines.defs.ingest.schedules import hourly_refresh, refresh_job
from pipelines.defs.ingest.sensors import landing_sensor

defs = Definitions(
    assets=[text_sentiment, landing_activities, raw_crm_tables],
    jobs=[refresh_job],
    schedules=[hourly_refresh],
    sensors=[landing_sensor],
    resources=RESOURCES,
)

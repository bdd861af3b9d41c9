"""Landing-folder sensor: new files (by content hash) trigger a refresh that loads and carries them on."""

import hashlib

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from crm.ingest.landing import pending_files
from pipelines.defs.ingest.schedules import refresh_job


@sensor(job=refresh_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Watches $CRM_HOME/landing/<tenant_id>/ for CSV/JSONL files not loaded yet.")
def landing_sensor(context: SensorEvaluationContext):
    files = pending_files()
    if not files:
        return SkipReason("no new files in the landing folder")
    # The run key is the set of file hashes: the same pending files never start two runs.
    digest = hashlib.sha256("".join(sorted(f.sha256 for f in files)).encode()).hexdigest()[:32]
    return RunRequest(run_key=f"landing-{digest}", tags={"crm/landing_files": str(len(files))})

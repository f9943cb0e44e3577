"""Validate DAG: the GX checkpoints of each layer (raw batches, staging, marts), recorded in
audit.validation_*; a blocking failure fails its task naming every failed check, and the
validated asset (which schedules publishing) is only emitted when every layer passed."""

from airflow.sdk import Asset, TriggerRule, dag, get_current_context, task

from parkdw import pipeline


def _validate(layer: str) -> dict:
    context = get_current_context()
    return pipeline.validate(context.get("data_interval_start"), context.get("data_interval_end"),
                             layer=layer, run_key=context["run_id"])


@dag(
    dag_id="parkdw_validate",
    description="Run the GX checkpoints per layer, record results in audit.*, fail on blocking checks.",
    schedule=[Asset(pipeline.MARTS_ASSET_URI)],
    start_date=pipeline.PARK_START,
    catchup=False,
    max_active_runs=1,
    default_args={**pipeline.DEFAULT_ARGS, "retries": 0},  # a failed check is not transient
    tags=["parkdw", "quality"],
)
def parkdw_validate():
    @task
    def validate_raw() -> dict:
        return _validate("raw")

    # Every layer is validated and recorded even when an earlier one failed.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def validate_staging() -> dict:
        return _validate("staging")

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def validate_marts() -> dict:
        return _validate("marts")

    @task(outlets=[Asset(pipeline.VALIDATED_ASSET_URI)])
    def mark_validated() -> str:
        return pipeline.validation_gate()

    raw, staging, marts = validate_raw(), validate_staging(), validate_marts()
    raw >> staging >> marts
    [raw, staging, marts] >> mark_validated()  # only when every layer passed


parkdw_validate()

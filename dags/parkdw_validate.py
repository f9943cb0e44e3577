"""Validate DAG: Great Expectations suites on raw and marts; blocking failures stop publishing."""

from airflow.sdk import Asset, dag, get_current_context, task

from parkdw import pipeline


@dag(
    dag_id="parkdw_validate",
    description="Run the GX suites, record results in audit.*, fail on blocking checks.",
    schedule=[Asset(pipeline.MARTS_ASSET_URI)],
    start_date=pipeline.PARK_START,
    catchup=False,
    max_active_runs=1,
    default_args={**pipeline.DEFAULT_ARGS, "retries": 0},  # a failed check is not transient
    tags=["parkdw", "quality"],
)
def parkdw_validate():
    @task(outlets=[Asset(pipeline.VALIDATED_ASSET_URI)])
    def validate_warehouse() -> dict:
        context = get_current_context()
        return pipeline.validate(context.get("data_interval_start"), context.get("data_interval_end"))

    validate_warehouse()


parkdw_validate()

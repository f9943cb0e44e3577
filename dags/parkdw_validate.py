"""Validate DAG: Great Expectations suites on raw and marts; blocking failures stop publishing.

The auditors' report is rendered after validation whether it passed or failed (a failed blocking
check must show in it); the last task then fails the run when validation did.
"""

from airflow.sdk import Asset, dag, get_current_context, task

from parkdw import pipeline


@dag(
    dag_id="parkdw_validate",
    description="Run the GX suites, record results in audit.*, render the auditors' report, fail on blocking checks.",
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

    @task(trigger_rule="all_done")
    def render_audit_report() -> dict:
        return pipeline.render_audit_report()

    @task
    def validation_passed() -> str:
        return pipeline.require_validation_passed_task()

    validated = validate_warehouse()
    report = render_audit_report()
    validated >> report
    [validated, report] >> validation_passed()


parkdw_validate()

"""Publish DAG: after a passed validation, open the marts to BI tools, export them, render the report."""

from airflow.sdk import Asset, dag, task

from parkdw import pipeline


@dag(
    dag_id="parkdw_publish",
    description="Publish validated marts: BI grants, CSV + Parquet exports with a manifest, the progress report.",
    schedule=[Asset(pipeline.VALIDATED_ASSET_URI)],
    start_date=pipeline.PARK_START,
    catchup=False,
    max_active_runs=1,
    default_args=pipeline.DEFAULT_ARGS,
    tags=["parkdw", "publish"],
)
def parkdw_publish():
    # Every task checks first that the latest marts validation passed.
    @task
    def refresh_grants() -> dict:
        return pipeline.refresh_grants()

    @task
    def write_exports() -> dict:
        return pipeline.publish()

    @task(outlets=[Asset(pipeline.PUBLISHED_ASSET_URI)])
    def render_report() -> dict:
        return pipeline.render_report()

    refresh_grants() >> write_exports() >> render_report()


parkdw_publish()

"""Publish DAG: after a passed validation, export the marts (CSV + manifest) for BI and partners."""

from airflow.sdk import Asset, dag, task

from parkdw import pipeline


@dag(
    dag_id="parkdw_publish",
    description="Publish validated marts: exports with a manifest of row counts and checksums.",
    schedule=[Asset(pipeline.VALIDATED_ASSET_URI)],
    start_date=pipeline.PARK_START,
    catchup=False,
    max_active_runs=1,
    default_args=pipeline.DEFAULT_ARGS,
    tags=["parkdw", "publish"],
)
def parkdw_publish():
    @task(outlets=[Asset(pipeline.PUBLISHED_ASSET_URI)])
    def publish_marts() -> dict:
        return pipeline.publish()

    publish_marts()


parkdw_publish()

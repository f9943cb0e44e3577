"""Transform DAG: dbt (seeds, staging, intermediate, marts and their tests) through Cosmos.

Scheduled on the raw Assets; rendered from the dbt manifest so parsing never runs dbt.
"""

from airflow.sdk import Asset, dag, task
from cosmos import DbtTaskGroup

from parkdw import pipeline, transform

_project, _profile, _execution, _render = transform.cosmos_configs()


@dag(
    dag_id="parkdw_transform",
    description="Build the star schema and progress marts with dbt (Cosmos DbtTaskGroup, build per model).",
    schedule=(
        Asset(pipeline.raw_asset_uri("ceb_inventory_head"))
        | Asset(pipeline.raw_asset_uri("ceb_inventory_return"))
        | Asset(pipeline.raw_asset_uri("registry_enterprise"))
        | Asset(pipeline.raw_asset_uri("fx_central_parity"))
        | Asset(pipeline.raw_asset_uri("payment_settlement"))
        | Asset(pipeline.raw_asset_uri("tracking_event"))
    ),
    start_date=pipeline.PARK_START,
    catchup=False,
    max_active_runs=1,
    default_args=pipeline.DEFAULT_ARGS,
    tags=["parkdw", "transform", "dbt"],
)
def parkdw_transform():
    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=_project,
        profile_config=_profile,
        execution_config=_execution,
        render_config=_render,
        operator_args=transform.operator_args(),
    )

    @task(outlets=[Asset(pipeline.MARTS_ASSET_URI)])
    def marts_built() -> str:
        return "marts rebuilt"

    transform.seed_task() >> dbt >> marts_built()


parkdw_transform()

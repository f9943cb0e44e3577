"""Ingest DAGs: one per partner, each loading what the partner delivered for the run's data
interval (landing files of the interval's days; for the tracking API, events up to its end).

Thin wiring only: the work is parkdw.pipeline.ingest. Each DAG emits an Asset event per raw
table it updates, which schedules the transform DAG.
"""

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from parkdw import pipeline

# Daily runs over explicit [day, next day) data intervals: a run (or a backfill) loads exactly
# the day folders of its interval. (A plain "@daily" has no data interval in Airflow 3.)
PARTNER_SCHEDULES = {
    "customs": CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    "reference": CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    "payments": CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    "logistics": CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
}


def build_ingest_dag(partner: str, schedule):
    @dag(
        dag_id=f"parkdw_ingest_{partner}",
        description=f"Load {partner} partner files for the data interval into raw tables (exactly once).",
        schedule=schedule,
        start_date=pipeline.PARK_START,
        catchup=False,
        max_active_runs=4,
        default_args=pipeline.DEFAULT_ARGS,
        tags=["parkdw", "ingest", partner],
    )
    def ingest_dag():
        @task(task_id=f"ingest_{partner}", outlets=[Asset(pipeline.raw_asset_uri(t)) for t in pipeline.partner_raw_tables(partner)])
        def ingest_partner() -> dict:
            context = get_current_context()
            return pipeline.ingest(partner, context["data_interval_start"], context["data_interval_end"])

        ingest_partner()

    return ingest_dag()


for _partner, _schedule in PARTNER_SCHEDULES.items():
    globals()[f"parkdw_ingest_{_partner}"] = build_ingest_dag(_partner, _schedule)

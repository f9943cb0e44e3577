"""The simulator's scenarios read as the matching progress status.

An ordinary fortnight (2024-10-14..27, no e-commerce peak) at 1% of the park's volume, with the
export target scaled to match (dbt var target_scale) and the ramp trajectory the sandbox's demand
follows (volume growing year on year). The warehouse holds declarations from the simulation's
first day only, so mart_target_progress measures the covered fortnight (covered_from).
"""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from parkdw import transform
from parkdw.ingest.loader import ingest_partner
from parkdw.sandbox.generate import DefectRates, SimulationConfig, expected_progress, simulate

START, END, SCALE = date(2024, 10, 14), date(2024, 10, 27), 0.01
SCALED = {"target_scale": {"export_volume_cny": SCALE}}


def build_progress(variables: dict) -> None:
    transform.run_dbt(["build", "--select", "+mart_target_progress", "--exclude-resource-type", "test",
                       "--vars", json.dumps(variables), "--quiet"])


def export_progress(conn) -> dict:
    cur = conn.execute("""select * from marts.mart_target_progress
                          where metric = 'export_volume_cny' and period_grain = 'month'
                          order by period_start desc limit 1""")
    row = dict(zip([c.name for c in cur.description], cur.fetchone()))
    conn.rollback()  # hold no lock on the mart: the next dbt run replaces it
    return row


@pytest.mark.parametrize("scenario, ramp_status, linear_status",
                         [("on-track", "on track", "at risk"), ("behind", "behind", "behind")])
def test_scenario_reads_as_its_status(conn, tmp_path, scenario, ramp_status, linear_status):
    cfg = SimulationConfig(START, END, seed=7, scale=SCALE, scenario=scenario, defects=DefectRates.none())
    simulate(cfg, tmp_path)
    # Files delivered up to the last day (later replies are not in yet), as the daily DAGs load them.
    interval = (datetime(2024, 10, 7, tzinfo=timezone.utc),
                datetime.combine(END + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc))
    for partner in ("customs", "reference"):
        ingest_partner(conn, partner, tmp_path, interval)
        conn.commit()

    build_progress({**SCALED, "target_trajectory": {"export_volume_cny": "ramp"}})
    row = export_progress(conn)
    assert row["cumulative_actual"] == expected_progress(cfg, tmp_path)["export_volume_cny"] > 0
    assert row["covered_from"] == START and row["as_of_date"] == END
    assert row["trajectory"] == "ramp"
    assert row["target_value"] == Decimal(16_000_000_000) * Decimal(str(SCALE))
    ratio = row["cumulative_actual"] / row["expected_cumulative"]
    assert row["status"] == ramp_status, f"{scenario}: actual / trajectory = {ratio:.3f}"

    # Against a linear trajectory the on-track park looks short in October: the plan ramps up.
    build_progress(SCALED)
    assert export_progress(conn)["status"] == linear_status

"""Validation rules that are code shared with the sandbox: the credit code check in SQL."""

import random

from parkdw import warehouse
from parkdw.codes import CREDIT_CODE_ALPHABET, credit_code_check_char_sql, is_valid_credit_code
from parkdw.sandbox import world


def test_credit_code_check_character_in_sql_agrees_with_the_python_rule(wh):
    rng = random.Random(5)
    valid = [world._credit_code(rng) for _ in range(300)]
    # One character changed (check or body), and two adjacent ones swapped.
    broken = [c[:i] + rng.choice(CREDIT_CODE_ALPHABET.replace(c[i], "")) + c[i + 1:]
              for c in valid[:150] for i in [rng.randrange(18)]]
    swapped = [c[:i] + c[i + 1] + c[i] + c[i + 2:] for c in valid[150:] for i in [rng.randrange(16)] if c[i] != c[i + 1]]
    codes = valid + broken + swapped
    with warehouse.connect(warehouse=wh) as conn:
        rows = conn.execute(f"""select code, substr(code, 18, 1) = {credit_code_check_char_sql('code')}
                                from unnest(%s::text[]) as code""", (codes,)).fetchall()
    assert [ok for _, ok in rows] == [is_valid_credit_code(c) for c in codes]
    assert sum(ok for _, ok in rows) == len(valid)  # every corruption caught


def _check_query(suite: str, check: str) -> str:
    from parkdw.quality.project import SUITES

    spec = next(s for s in SUITES if s["name"] == suite)
    return next(e for e in spec["expectations"] if e["check"] == check)["kwargs"]["unexpected_rows_query"]


def test_volume_band_flags_a_day_far_from_its_trailing_28_day_median(wh):
    # The check's own SQL, with the batch as GX passes it (a subquery aliased subselect).
    query = _check_query("marts.mart_export_volume_daily", "volume_within_trailing_28_day_band")
    history = ("select d::date as export_date, '9610' as trade_mode, 100 as released_lines, "
               "1000.00 as export_volume_cny from generate_series(date '2024-10-01', date '2024-10-28', "
               "interval '1 day') as d union all select date '2024-10-29', '9610', {lines}, {cny}")
    with warehouse.connect(warehouse=wh) as conn:
        def flagged(lines, cny):
            batch = f"({history.format(lines=lines, cny=cny)}) AS subselect"
            return conn.execute(query.replace("{batch}", batch)).fetchall()
        assert flagged(120, 1500) == []  # a busy day, within the band
        (row,) = flagged(100, 3000.01)  # more than three times the median
        total, *values = row  # each row of a check carries the number of rows (project.counted_query)
        assert total == 1 and values[0].isoformat() == "2024-10-29" and values[3] == 28 and values[4] == 1000
        assert len(flagged(20, 1000)) == 1  # a third of the usual lines, same value: flagged too


def test_whole_table_layers_run_with_full_build_planner_settings_and_raw_days_without(wh):
    """The GX data source's sessions: staging and marts checks read whole tables with nested
    loops off (as dbt's full builds), raw day batches keep the server's settings (their batch
    index, in a nested loop)."""
    import dataclasses

    import sqlalchemy as sa

    from parkdw.quality.validate import WHOLE_TABLE_OPTIONS, sqlalchemy_url

    names = ("enable_nestloop", "work_mem")
    with warehouse.connect(warehouse=wh) as conn:
        server = tuple(conn.execute(f"show {name}").fetchone()[0] for name in names)
    socket_style = dataclasses.replace(wh, host="/tmp/nowhere")
    assert sqlalchemy_url(socket_style, "-c a=b").count("?") == 1  # options joined to ?host=...
    for options, expected in ((None, server), (WHOLE_TABLE_OPTIONS, ("off", "64MB"))):
        engine = sa.create_engine(sqlalchemy_url(wh, options))
        try:
            with engine.connect() as connection:
                settings = tuple(connection.execute(sa.text(f"show {name}")).scalar() for name in names)
        finally:
            engine.dispose()
        assert settings == expected, options

"""Great Expectations (GX Core 1.x) validation of warehouse tables, recorded in the audit schema.

Suites are JSON files in expectations/suites/ (version-controlled). Each run builds an ephemeral
GX context whose PostgreSQL data source takes its connection string from an environment variable
set here from the warehouse settings (the Airflow connection in tasks), so no GX file holds a
credential. Expectations with severity 'critical' are blocking; the rest only warn.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from parkdw import warehouse
from parkdw.settings import SCHEMA_AUDIT, TRANSFORM_ROLE, WarehouseParams, get_settings

log = logging.getLogger(__name__)

GX_URL_VARIABLE = "PARKDW_GX_WAREHOUSE_URL"
BLOCKING = "critical"


class BlockingValidationError(RuntimeError):
    """Raised when any blocking expectation failed; the message names every failed check."""


@dataclass
class CheckResult:
    suite: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    observed_value: object = None
    unexpected_count: int | None = None
    unexpected_sample: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def describe(self) -> str:
        target = f"{self.column}: " if self.column else ""
        extra = f" ({self.unexpected_count} unexpected, e.g. {self.unexpected_sample[:3]})" if self.unexpected_count else ""
        if self.observed_value is not None and not self.unexpected_count:
            extra = f" (observed {self.observed_value})"
        return f"{self.suite}: {target}{self.expectation_type}{extra}"


@dataclass
class ValidationSummary:
    run_key: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed_blocking(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.blocking]

    @property
    def failed_warning(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and not r.blocking]

    def line(self) -> str:
        return (f"checks={len(self.results)} passed={sum(r.success for r in self.results)} "
                f"blocking_failed={len(self.failed_blocking)} warnings={len(self.failed_warning)}")


def load_suites(layer: str | None = None, directory: Path | None = None) -> list[dict]:
    directory = directory or get_settings().expectations_dir / "suites"
    suites = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    return [s for s in suites if layer is None or s["layer"] == layer]


def _sqlalchemy_url(wh: WarehouseParams) -> str:
    return "postgresql+psycopg://" + wh.conninfo.split("://", 1)[1]


def run_validation(
    layer: str | None = None,
    interval: tuple[datetime, datetime] | None = None,
    wh: WarehouseParams | None = None,
) -> ValidationSummary:
    """Validate every suite of a layer (or all), record the outcome, and return it."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    wh = wh or get_settings().warehouse_as(TRANSFORM_ROLE)
    os.environ[GX_URL_VARIABLE] = _sqlalchemy_url(wh)  # read by GX's ${...} substitution only
    context = gx.get_context(mode="ephemeral")
    datasource = context.data_sources.add_or_update_postgres(
        name="warehouse", connection_string="${" + GX_URL_VARIABLE + "}"
    )
    summary = ValidationSummary(run_key=str(uuid.uuid4()))
    recorded = []
    for spec in load_suites(layer):
        table = spec["table"]
        asset = datasource.add_table_asset(name=spec["name"], table_name=table["name"], schema_name=table["schema"])
        batch = asset.add_batch_definition_whole_table("whole_table")
        suite = gx.ExpectationSuite(name=spec["name"])
        for e in spec["expectations"]:
            suite.add_expectation_configuration(
                ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}),
                                         severity=e.get("severity", BLOCKING))
            )
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=spec["name"], data=batch, suite=suite)
        )
        outcome = definition.run(result_format="SUMMARY")
        results = []
        for r in outcome.results:
            cfg = r.expectation_config
            res = r.result or {}
            severity = getattr(cfg.severity, "value", cfg.severity) or BLOCKING
            results.append(CheckResult(
                suite=spec["name"], expectation_type=cfg.type, column=cfg.kwargs.get("column"),
                severity=str(severity), success=bool(r.success),
                observed_value=res.get("observed_value"), unexpected_count=res.get("unexpected_count"),
                unexpected_sample=list(res.get("partial_unexpected_list") or [])[:20],
                kwargs={k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
            ))
            if r.exception_info and r.exception_info.get("raised_exception"):
                results[-1].observed_value = f"error: {r.exception_info.get('exception_message')}"
        summary.results.extend(results)
        recorded.append((spec, results))
    _record(summary.run_key, recorded, interval, wh)
    log.info("validation %s: %s", layer or "all", summary.line())
    for r in summary.failed_warning:
        log.warning("warning check failed: %s", r.describe())
    return summary


def _record(run_key: str, recorded, interval, wh: WarehouseParams) -> None:
    start, end = interval or (None, None)
    with warehouse.connect(warehouse=wh) as conn, conn.transaction():
        for spec, results in recorded:
            failed_blocking = sum(1 for r in results if not r.success and r.blocking)
            failed_warning = sum(1 for r in results if not r.success and not r.blocking)
            run_id = conn.execute(
                f"""insert into {SCHEMA_AUDIT}.validation_run
                    (run_key, suite, layer, asset, data_interval_start, data_interval_end, success,
                     blocking_success, evaluated, passed, failed_blocking, failed_warning)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning validation_run_id""",
                (run_key, spec["name"], spec["layer"], f"{spec['table']['schema']}.{spec['table']['name']}",
                 start, end, failed_blocking + failed_warning == 0, failed_blocking == 0, len(results),
                 sum(r.success for r in results), failed_blocking, failed_warning),
            ).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(
                    f"""insert into {SCHEMA_AUDIT}.validation_result
                        (validation_run_id, expectation_type, column_name, severity, success, observed_value,
                         unexpected_count, unexpected_sample, kwargs) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [(run_id, r.expectation_type, r.column, r.severity, r.success,
                      None if r.observed_value is None else json.dumps(r.observed_value, default=str),
                      r.unexpected_count, json.dumps(r.unexpected_sample, default=str),
                      json.dumps(r.kwargs, default=str)) for r in results],
                )


def enforce(summary: ValidationSummary) -> None:
    """Fail loudly, naming each failed blocking check."""
    if summary.failed_blocking:
        names = "\n  - ".join(r.describe() for r in summary.failed_blocking)
        raise BlockingValidationError(f"{len(summary.failed_blocking)} blocking check(s) failed:\n  - {names}")


def latest_marts_validation_passed(conn) -> tuple[bool, str]:
    """Whether the most recent validation of the marts passed its blocking checks (publish gate)."""
    row = conn.execute(
        f"""select run_key, bool_and(blocking_success), max(run_at) from {SCHEMA_AUDIT}.validation_run
            where layer = 'marts' and run_key = (
                select run_key from {SCHEMA_AUDIT}.validation_run where layer = 'marts'
                order by run_at desc, validation_run_id desc limit 1)
            group by run_key"""
    ).fetchone()
    if row is None:
        return False, "the marts have never been validated"
    return bool(row[1]), f"validation run {row[0]} at {row[2]:%Y-%m-%d %H:%M:%S}"

"""Great Expectations (GX Core 1.x) validation of the warehouse, recorded in the audit schema.

The GX project is the file context in expectations/ (see project.py): one checkpoint per layer.
Its data source reads the connection string from ${PARKDW_GX_WAREHOUSE_URL}, which this module
sets from the warehouse settings (the Airflow connection in tasks), and its validation results
and Data Docs go to ${PARKDW_GX_RESULTS_DIR} (settings.gx_results_dir), outside the repository.

Raw suites validate the load batches of each data interval day; staging and marts suites whole
tables. Severity 'critical' is blocking; 'warning' is recorded and logged only. Every suite's
result is one audit.validation_run row, every expectation's one audit.validation_result row.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from parkdw import warehouse
from parkdw.quality.project import LAYERS, RESULTS_VARIABLE, URL_VARIABLE
from parkdw.settings import SCHEMA_AUDIT, TRANSFORM_ROLE, WarehouseParams, get_settings

log = logging.getLogger(__name__)

BLOCKING = "critical"
SAMPLE_SIZE = 20  # unexpected values / rows kept per check in the audit tables


class BlockingValidationError(RuntimeError):
    """Raised when any blocking expectation failed; the message names every failed check."""


@dataclass
class CheckResult:
    suite: str
    check: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    batch: str = ""
    description: str = ""
    observed_value: object = None
    unexpected_count: int | None = None
    unexpected_sample: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def describe(self) -> str:
        target = f" on {self.column}" if self.column else ""
        if self.unexpected_count:
            extra = f": {self.unexpected_count} unexpected, e.g. {self.unexpected_sample[:3]}"
        elif self.observed_value is not None:
            extra = f": observed {self.observed_value}"
        else:
            extra = ""
        return f"{self.suite}{_bracketed(self.batch)}: {self.check} ({self.expectation_type}{target}){extra}"


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


# The planner settings of checks that read whole tables (the staging and marts layers), as dbt's
# full builds use (macros/incremental.sql, full_build_plan_settings): the customs views' joins of
# lines to their head's version are estimated at one row, and nested loops then ran a million
# index lookups. The fact's reconciliation with its view took 45.7 s on the scale-1 month, 12.7 s
# with these. Raw days keep the defaults: a day's batches are found by the raw batch index, in a
# nested loop.
WHOLE_TABLE_OPTIONS = "-c enable_nestloop=off -c work_mem=64MB"


def sqlalchemy_url(wh: WarehouseParams, options: str | None = None) -> str:
    url = "postgresql+psycopg://" + wh.conninfo.split("://", 1)[1]
    if options:
        url += ("&" if "?" in url else "?") + "options=" + quote(options)
    return url


def gx_context(wh: WarehouseParams | None = None, results_dir: Path | None = None, options: str | None = None):
    """The expectations/ file context, its ${...} variables filled from settings; `options`, the
    server settings of its sessions (libpq's options)."""
    import great_expectations as gx

    import parkdw.quality.sql_check  # noqa: F401 - registers the suites' SQL check expectation type

    settings = get_settings()
    wh = wh or settings.warehouse_as(TRANSFORM_ROLE)  # validation runs as the owner of the marts
    results_dir = results_dir or settings.gx_results_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    os.environ[URL_VARIABLE] = sqlalchemy_url(wh, options)  # read by GX's ${...} substitution only
    os.environ[RESULTS_VARIABLE] = str(results_dir)
    return gx.get_context(mode="file", context_root_dir=settings.expectations_dir)


def raw_batch_days(conn, interval: tuple[datetime, datetime] | None) -> dict[date, set[str]]:
    """Data interval days whose raw batches to validate, with the raw tables those batches
    loaded rows into: the days of the interval, or (without one) every day with a batch loaded
    since the last raw validation."""
    if interval and interval[0] < interval[1]:
        start, end = (t.astimezone(timezone.utc) if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in interval)
        scope, arguments = "coalesce(data_interval_start, started_at) >= %s and coalesce(data_interval_start, started_at) < %s", (start, end)
    else:
        scope, arguments = (f"finished_at > coalesce((select max(run_at) from {SCHEMA_AUDIT}.validation_run "
                            f"where layer = 'raw'), '-infinity')"), ()
    rows = conn.execute(
        f"""select (coalesce(data_interval_start, started_at) at time zone 'UTC')::date, t.key
            from {SCHEMA_AUDIT}.load_batch, jsonb_each_text(rows_by_table) as t
            where status = 'loaded' and t.value::bigint > 0 and {scope}
            group by 1, 2 order by 1, 2""",
        arguments,
    ).fetchall()
    days: dict[date, set[str]] = {}
    for day, table in rows:
        days.setdefault(day, set()).add(table)
    return days


def run_validation(
    layer: str | None = None,
    interval: tuple[datetime, datetime] | None = None,
    wh: WarehouseParams | None = None,
    run_key: str | None = None,
) -> ValidationSummary:
    """Run the checkpoint of a layer (or of every layer), record the outcome, and return it."""
    wh = wh or get_settings().warehouse_as(TRANSFORM_ROLE)
    summary = ValidationSummary(run_key=run_key or str(uuid.uuid4()))
    for name in [layer] if layer else LAYERS:
        # A context per layer: its data source's sessions get the layer's planner settings.
        context = gx_context(wh, options=None if name == "raw" else WHOLE_TABLE_OPTIONS)
        checkpoint = context.checkpoints.get(name)
        if name == "raw":
            with warehouse.connect(warehouse=wh) as conn:
                days = raw_batch_days(conn, interval)
            runs = [([d for d in checkpoint.validation_definitions if d.name.split(".", 1)[1] in tables],
                     {"year": day.year, "month": day.month, "day": day.day},
                     (datetime.combine(day, time(), timezone.utc),
                      datetime.combine(day + timedelta(days=1), time(), timezone.utc)))
                    for day, tables in days.items()]
            runs = [run for run in runs if run[0]]
        else:
            runs = [(checkpoint.validation_definitions, None, interval)]
        for definitions, parameters, batch_interval in runs:
            outcome = _run_definitions(checkpoint, definitions, parameters, _run_id(summary.run_key, name))
            recorded = [_suite_results(identifier, result) for identifier, result in outcome.items()]
            _record(summary.run_key, name, recorded, batch_interval, wh)
            for _, _, results in recorded:
                summary.results.extend(results)
        log.info("validation %s: %d batch(es) validated", name, len(runs))
    log.info("validation %s: %s", layer or "all layers", summary.line())
    for r in summary.failed_warning:
        log.warning("warning check failed: %s", r.describe())
    for r in summary.failed_blocking:
        log.error("blocking check failed: %s", r.describe())
    return summary


def _run_definitions(checkpoint, definitions, batch_parameters, run_id) -> dict:
    """Run some of a checkpoint's validation definitions as the checkpoint itself would (its id,
    result format and run id; each result saved to the GX results store), keyed like its run
    results. Raw days need a subset: GX has no batch of a table nothing was loaded into."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    results = {}
    for definition in definitions:
        result = definition.run(checkpoint_id=checkpoint.id, batch_parameters=batch_parameters,
                                result_format=checkpoint.result_format, run_id=run_id)
        key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(
            name=definition.suite.name), run_id=run_id, batch_identifier=result.batch_id)
        results[key] = result
    return results


def batch_label(batch_identifier: str | None) -> str:
    """'2024-11-11' for a raw batch identifier ending year_2024-month_11-day_11, else ''."""
    match = re.search(r"year_(\d+)-month_(\d+)-day_(\d+)$", batch_identifier or "")
    return f"{int(match[1]):04d}-{int(match[2]):02d}-{int(match[3]):02d}" if match else ""


def _bracketed(text: str) -> str:
    return f" [{text}]" if text else ""


def _run_id(run_key: str, layer: str):
    from great_expectations.core.run_identifier import RunIdentifier

    # GX names result files and Data Docs pages by run name: keep it to URL- and file-safe
    # characters (Airflow run ids carry ':' and '+').
    return RunIdentifier(run_name=re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run_key}-{layer}"))


def _suite_results(identifier, result) -> tuple[str, str, list[CheckResult]]:
    """(GX result id, batch identifier, the checks) of one suite's validation result."""
    batch = identifier.batch_identifier
    suite = result.suite_name
    checks = []
    for r in result.results:
        cfg = r.expectation_config
        res = r.result or {}
        severity = getattr(cfg.severity, "value", cfg.severity) or BLOCKING
        details = res.get("details") or {}
        if "unexpected_rows" in details:  # an SQL check: its rows are the unexpected values
            unexpected_count = res.get("observed_value")
            sample = [dict(row) for row in details["unexpected_rows"][:SAMPLE_SIZE]]
            observed = None
        else:
            unexpected_count = res.get("unexpected_count")
            sample = list(res.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
            observed = res.get("observed_value")
        check = CheckResult(
            suite=suite, check=cfg.meta.get("check") or cfg.type, expectation_type=cfg.type,
            column=cfg.kwargs.get("column"), severity=str(severity), success=bool(r.success),
            batch=batch_label(batch),
            description=cfg.meta.get("why", ""), observed_value=observed,
            unexpected_count=unexpected_count, unexpected_sample=sample,
            kwargs={k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
        )
        error = _exception_message(r.exception_info)
        if error:
            check.success = False
            check.observed_value = f"error: {error}"
        checks.append(check)
    return "/".join(identifier.to_tuple()), batch, checks


def _exception_message(info) -> str | None:
    """A check that raised (e.g. its SQL failed): GX reports it flat or per metric."""
    if not info:
        return None
    for item in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if item.get("raised_exception"):
            return str(item.get("exception_message"))
    return None


def _record(run_key: str, layer: str, recorded, interval, wh: WarehouseParams) -> None:
    start, end = interval or (None, None)
    with warehouse.connect(warehouse=wh) as conn, conn.transaction():
        for result_id, batch, results in recorded:
            failed_blocking = sum(1 for r in results if not r.success and r.blocking)
            failed_warning = sum(1 for r in results if not r.success and not r.blocking)
            suite = results[0].suite if results else batch
            run_id = conn.execute(
                f"""insert into {SCHEMA_AUDIT}.validation_run
                    (run_key, suite, layer, asset, data_interval_start, data_interval_end, success,
                     blocking_success, evaluated, passed, failed_blocking, failed_warning, checkpoint,
                     batch_id, gx_result_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    returning validation_run_id""",
                (run_key, suite, layer, suite, start, end, failed_blocking + failed_warning == 0,
                 failed_blocking == 0, len(results), sum(r.success for r in results), failed_blocking,
                 failed_warning, layer, batch, result_id),
            ).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(
                    f"""insert into {SCHEMA_AUDIT}.validation_result
                        (validation_run_id, expectation_type, column_name, severity, success, observed_value,
                         unexpected_count, unexpected_sample, kwargs, check_name, description)
                        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [(run_id, r.expectation_type, r.column, r.severity, r.success,
                      None if r.observed_value is None else json.dumps(r.observed_value, default=str),
                      r.unexpected_count, json.dumps(r.unexpected_sample, default=str, ensure_ascii=False),
                      json.dumps(r.kwargs, default=str, ensure_ascii=False), r.check, r.description)
                     for r in results],
                )


def enforce(summary: ValidationSummary) -> None:
    """Fail loudly, naming each failed blocking check."""
    if summary.failed_blocking:
        names = "\n  - ".join(r.describe() for r in summary.failed_blocking)
        raise BlockingValidationError(f"{len(summary.failed_blocking)} blocking check(s) failed:\n  - {names}")


def latest_validation_passed(conn) -> tuple[bool, str]:
    """The publish gate: whether the latest validation of every layer passed its blocking checks
    (the marts must have been validated); the detail names the runs or the failed checks."""
    latest = conn.execute(
        f"""select distinct on (layer) layer, run_key, run_at from {SCHEMA_AUDIT}.validation_run
            order by layer, run_at desc, validation_run_id desc"""
    ).fetchall()
    if "marts" not in {layer for layer, _, _ in latest}:
        return False, "the marts have never been validated"
    failed = conn.execute(
        f"""select r.suite, r.batch_id, x.check_name from {SCHEMA_AUDIT}.validation_run as r
            join {SCHEMA_AUDIT}.validation_result as x using (validation_run_id)
            where (r.layer, r.run_key) in (select unnest(%s::text[]), unnest(%s::text[]))
              and not x.success and x.severity = %s
            order by r.layer, r.suite, r.batch_id, x.check_name""",
        ([layer for layer, _, _ in latest], [key for _, key, _ in latest], BLOCKING),
    ).fetchall()
    runs = ", ".join(f"{layer} {key} at {at:%Y-%m-%d %H:%M:%S}" for layer, key, at in latest)
    if failed:
        checks = "; ".join(f"{suite}{_bracketed(batch_label(batch))}: {check}" for suite, batch, check in failed)
        return False, f"{len(failed)} blocking check(s) failed: {checks} (validation runs: {runs})"
    return True, f"validation runs: {runs}"


def build_data_docs(out_dir: Path, wh: WarehouseParams | None = None) -> Path:
    """GX Data Docs for the latest validation run of each layer, built into out_dir; returns
    the site's index.html. Reads the run's results from the GX results store (gx_results_dir)."""
    wh = wh or get_settings().warehouse_as(TRANSFORM_ROLE)
    with warehouse.connect(warehouse=wh) as conn:
        result_ids = [r[0] for r in conn.execute(
            f"""select r.gx_result_id from {SCHEMA_AUDIT}.validation_run as r
                join (select distinct on (layer) layer, run_key from {SCHEMA_AUDIT}.validation_run
                      order by layer, run_at desc, validation_run_id desc) as latest using (layer, run_key)
                where r.gx_result_id is not null order by r.validation_run_id"""
        ).fetchall()]
    store = get_settings().gx_results_dir / "validations"
    with tempfile.TemporaryDirectory(prefix="parkdw-gx-docs-") as tmp:
        # A results store holding only the latest runs: the site then lists just those.
        for result_id in result_ids:
            source = store / f"{result_id}.json"
            if not source.exists():
                raise FileNotFoundError(f"validation result {result_id} is not in the GX results store {store}")
            target = Path(tmp) / "validations" / f"{result_id}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        context = gx_context(wh, results_dir=Path(tmp))
        context.build_data_docs()
        out_dir = Path(out_dir)
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(Path(tmp) / "data_docs", out_dir)
    log.info("data docs for %d validation result(s): %s", len(result_ids), out_dir / "index.html")
    return out_dir / "index.html"

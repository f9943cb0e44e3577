"""The Great Expectations project in expectations/ (a GX Core file context), as definitions.

The checks are defined here once; `python -m parkdw.quality.project` writes them into the GX
file context's own files, which are committed: great_expectations.yml (the `warehouse` data
source, its assets and batch definitions, the Data Docs site), the suites
(expectations/expectations/<layer>/<asset>.json), validation_definitions/ and one checkpoint per
layer (checkpoints/<layer>.json). Validation only reads those files (validate.py).

No credential is written: the data source's connection string is `${PARKDW_GX_WAREHOUSE_URL}` and
the results / Data Docs folders `${PARKDW_GX_RESULTS_DIR}`, both filled at run time from settings.

Every expectation carries a GX severity: `critical` blocks publishing, `warning` is recorded only,
and `meta.check`, a short name that failure messages and the audit tables use.
Raw assets are batched by data interval day (the load batches of that day's ingest runs); staging
and marts assets are validated whole. Cross-table checks are SQL queries (sql_check.py: GX's
UnexpectedRowsExpectation, asking the database once per check).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from parkdw.codes import credit_code_check_char_sql

DATASOURCE = "warehouse"
URL_VARIABLE = "PARKDW_GX_WAREHOUSE_URL"
RESULTS_VARIABLE = "PARKDW_GX_RESULTS_DIR"
LAYERS = ("raw", "staging", "marts")
WHOLE_TABLE = "whole_table"
INTERVAL_DAY = "data_interval_day"  # batch parameters year, month, day
INTERVAL_COLUMN = "_interval_day"
CRITICAL, WARNING = "critical", "warning"

# A raw table's rows with the (UTC) day of the data interval their load batch was loaded for.
# Loads without an interval (an operator's manual run) count on the day they started.
RAW_QUERY = (
    "select t.*, (coalesce(b.data_interval_start, b.started_at) at time zone 'UTC')::date as "
    + INTERVAL_COLUMN + " from raw.{table} as t join audit.load_batch as b on b.batch_id = t._batch_id"
)
CEB_TIME = r"^[0-9]{14}([0-9]{3})?$"  # yyyyMMddHHmmss[SSS], Beijing time
# The same in SQL checks, without braces (GX formats their queries: {batch} is the batch).
CEB_TIME_SQL = "length({0}) in (14, 17) and {0} ~ '^[0-9]+$'"


def _ceb_ts(column: str) -> str:
    return f"to_timestamp(left({column}, 14), 'YYYYMMDDHH24MISS')"


def _in_range(column: str) -> str:
    """A CEB timestamp outside [park opening, its interval day + 2 days]: a wrong clock or year."""
    return (f"select {column}, {INTERVAL_COLUMN} from {{batch}} where {CEB_TIME_SQL.format(column)} and "
            f"({_ceb_ts(column)} < timestamp '2022-09-23' or {_ceb_ts(column)} > {INTERVAL_COLUMN} + 2)")


# An SQL check's rows each carry their total, so one query answers it (sql_check.py).
TOTAL_COLUMN = "_unexpected_rows_total"


def counted_query(query: str) -> str:
    """The check's query with each row carrying the number of rows it returns."""
    return f"select count(*) over () as {TOTAL_COLUMN}, unexpected.* from ({query}) as unexpected"


def col(kind: str, check: str, severity: str, why: str, **kwargs) -> dict:
    return {"kind": kind, "check": check, "severity": severity, "why": why, "kwargs": kwargs}


def sql(check: str, severity: str, why: str, query: str) -> dict:
    # GX puts the batch in as "(subquery) AS subselect", but as a bare "(subquery)" when the
    # query has a join: then the query must alias it itself.
    if bool(re.search(r"\bjoin\b", query)) != ("{batch} as " in query):
        raise ValueError(f"{check}: alias {{batch}} exactly when the query has a join")
    return {"kind": "ExpectNoUnexpectedRows", "check": check, "severity": severity, "why": why,
            "kwargs": {"unexpected_rows_query": counted_query(" ".join(query.split())), "description": why}}


def not_null(column: str, severity: str = CRITICAL) -> dict:
    return col("ExpectColumnValuesToNotBeNull", f"{column}_not_null", severity, f"key {column} present",
               column=column)


def fk(column: str, dim: str, key: str) -> dict:
    return sql(f"{column}_resolves", CRITICAL, f"every {column} resolves to marts.{dim}",
               f"select f.{column} from {{batch}} as f left join marts.{dim} as d on d.{key} = f.{column} "
               f"where f.{column} is not null and d.{key} is null")


SUITES: list[dict] = [
    # --- raw: the batches of one data interval day ---------------------------------------------
    {"name": "raw.registry_enterprise", "layer": "raw", "query": RAW_QUERY.format(table="registry_enterprise"),
     "expectations": [
         col("ExpectTableColumnsToMatchSet", "required_columns", CRITICAL,
             "required columns present, as delivered plus lineage",
             column_set=["credit_code", "customs_code", "enterprise_name", "enterprise_type", "entry_date",
                         "status", "status_date", "_batch_id", "_record_no",
                         "_message_guid", "_loaded_at", INTERVAL_COLUMN], exact_match=True),
         not_null("credit_code"),
         col("ExpectColumnValuesToMatchRegex", "credit_code_format", CRITICAL,
             "18-character unified social credit code (GB 32100-2015 alphabet)",
             column="credit_code", regex="^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
         sql("credit_code_check_character", CRITICAL,
             "the 18th character is the GB 32100-2015 check character of the first 17",
             f"select credit_code from {{batch}} where length(credit_code) = 18 and credit_code ~ '^[0-9A-HJ-NPQRTUWXY]+$' "
             f"and substr(credit_code, 18, 1) <> {credit_code_check_char_sql('credit_code')}"),
         col("ExpectColumnValuesToMatchRegex", "customs_code_format", WARNING,
             "10-character customs registration code", column="customs_code", regex="^[0-9A-Z]{10}$"),
         col("ExpectColumnValuesToBeInSet", "enterprise_type_known", CRITICAL, "a registry enterprise type",
             column="enterprise_type", value_set=["export", "service", "startup"]),
         col("ExpectColumnValuesToBeInSet", "status_known", CRITICAL, "a registry status",
             column="status", value_set=["active", "graduated", "exited"]),
         col("ExpectColumnValuesToMatchRegex", "entry_date_format", CRITICAL, "ISO date",
             column="entry_date", regex="^20[2-9][0-9]-[01][0-9]-[0-3][0-9]$"),
     ]},
    {"name": "raw.ceb_inventory_head", "layer": "raw", "query": RAW_QUERY.format(table="ceb_inventory_head"),
     "expectations": [
         not_null("guid"), not_null("order_no"), not_null("ebc_code"),
         col("ExpectColumnValuesToMatchRegex", "app_time_parseable", CRITICAL, "CEB timestamp yyyyMMddHHmmss",
             column="app_time", regex=CEB_TIME),
         sql("app_time_in_range", CRITICAL, "appTime between the park's opening and its interval day + 2",
             _in_range("app_time")),
         col("ExpectColumnValuesToMatchRegex", "ie_date_format", CRITICAL, "export date yyyyMMdd",
             column="ie_date", regex="^20[2-9][0-9][01][0-9][0-3][0-9]$"),
         sql("trade_mode_in_code_table", CRITICAL, "trade mode in the customs trade mode table (seed)",
             "select h.trade_mode from {batch} as h left join staging.customs_trade_mode as c "
             "on c.trade_mode = h.trade_mode where c.trade_mode is null"),
         sql("country_in_code_table", CRITICAL, "destination country in the customs country table (seed)",
             "select h.country from {batch} as h left join staging.customs_country as c "
             "on c.customs_code = h.country where c.customs_code is null"),
         # The sandbox's wrong_timezone defect: appTime written in UTC, 8 h early, so the list
         # reads as declared before its own order (which is declared 20 minutes earlier).
         sql("app_time_before_order", WARNING,
             "appTime earlier than the order's appTime: written in UTC instead of Beijing time",
             f"select distinct on (h.guid) h.guid, h.order_no, h.app_time, o.app_time as order_app_time "
             f"from {{batch}} as h join raw.ceb_order_head as o on o.order_no = h.order_no "
             f"and o.ebp_code = h.ebp_code where {CEB_TIME_SQL.format('h.app_time')} and {CEB_TIME_SQL.format('o.app_time')} "
             f"and {_ceb_ts('h.app_time')} < {_ceb_ts('o.app_time')} order by h.guid"),
     ]},
    {"name": "raw.ceb_inventory_list", "layer": "raw", "query": RAW_QUERY.format(table="ceb_inventory_list"),
     "expectations": [
         not_null("head_guid"), not_null("gnum"),
         col("ExpectColumnValuesToMatchRegex", "hs_code_ten_digits", CRITICAL, "10-digit HS code",
             column="gcode", regex="^[0-9]{10}$"),
         col("ExpectColumnValuesToMatchRegex", "total_price_non_negative", CRITICAL,
             "non-negative decimal amount", column="total_price", regex=r"^[0-9]+(\.[0-9]+)?$"),
         sql("unit_in_code_table", CRITICAL, "unit in the customs unit table (seed)",
             "select l.unit from {batch} as l left join staging.customs_unit as c on c.unit_code = l.unit "
             "where c.unit_code is null"),
         sql("currency_in_code_table", WARNING,
             "currency in the customs currency table; partners also send ISO spellings (CNY, 156), "
             "which staging maps",
             "select l.head_guid, l.gnum, l.currency from {batch} as l left join staging.customs_currency as c "
             "on c.customs_code = l.currency where c.customs_code is null"),
     ]},
    {"name": "raw.ceb_inventory_return", "layer": "raw", "query": RAW_QUERY.format(table="ceb_inventory_return"),
     "expectations": [
         not_null("guid"), not_null("return_status"),
         col("ExpectColumnValuesToMatchRegex", "return_time_parseable", CRITICAL,
             "CEB timestamp yyyyMMddHHmmssSSS", column="return_time", regex=CEB_TIME),
         sql("return_time_in_range", CRITICAL, "returnTime between the park's opening and its interval day + 2",
             _in_range("return_time")),
     ]},
    # --- staging: resolved entities and status histories ---------------------------------------
    {"name": "staging.stg_customs__inventory_heads", "layer": "staging",
     "table": ("staging", "stg_customs__inventory_heads"),
     "expectations": [
         col("ExpectColumnValuesToBeUnique", "inventory_guid_unique", CRITICAL,
             "one resolved version per inventory list", column="inventory_guid"),
     ]},
    {"name": "staging.stg_customs__inventory_returns", "layer": "staging",
     "table": ("staging", "stg_customs__inventory_returns"),
     "expectations": [
         sql("rejected_and_released", CRITICAL,
             "an inventory list is either rejected (100) or released (800/899), never both",
             "select inventory_guid from {batch} group by inventory_guid "
             "having bool_or(return_status = '100') and bool_or(return_status in ('800', '899'))"),
         sql("progress_after_final_outcome", WARNING,
             "a progress reply (e.g. 120 stored) stamped after the list's final outcome",
             "select inventory_guid, return_status, returned_at, final_at from (select *, min(returned_at) "
             "filter (where return_status in ('100', '399', '800', '899')) over (partition by inventory_guid) "
             "as final_at from {batch}) as r where return_status not in ('100', '399', '800', '899') "
             "and returned_at > final_at"),
     ]},
    {"name": "staging.stg_registry__enterprise_versions", "layer": "staging",
     "table": ("staging", "stg_registry__enterprise_versions"),
     "expectations": [
         sql("one_state_per_enterprise_and_date", CRITICAL,
             "one registry state per enterprise and status date",
             "select credit_code, status_date, count(*) as states from {batch} "
             "group by credit_code, status_date having count(*) > 1"),
         sql("registry_status_transition_legal", CRITICAL,
             "registry status changes only active -> graduated (startups) or active -> exited",
             "select credit_code, previous_status, status, status_date from (select credit_code, "
             "enterprise_type, status, status_date, lag(status) over (partition by credit_code "
             "order by status_date) as previous_status from {batch}) as s where previous_status is distinct "
             "from status and previous_status is not null and not ((previous_status, status) = "
             "('active', 'exited') or ((previous_status, status) = ('active', 'graduated') "
             "and enterprise_type = 'startup'))"),
     ]},
    # --- marts: grain, keys, reconciliation, volume, freshness --------------------------------
    {"name": "marts.fct_export_declaration_lines", "layer": "marts",
     "table": ("marts", "fct_export_declaration_lines"),
     "expectations": [
         col("ExpectTableRowCountToBeBetween", "not_empty", CRITICAL, "a published fact is never empty",
             min_value=1),
         col("ExpectColumnValuesToBeUnique", "declaration_line_key_unique", CRITICAL,
             "fact grain: one released inventory line", column="declaration_line_key"),
         col("ExpectCompoundColumnsToBeUnique", "grain_unique", CRITICAL,
             "fact grain: (inventory_guid, gnum)", column_list=["inventory_guid", "gnum"]),
         not_null("value_cny"),
         col("ExpectColumnValuesToBeBetween", "value_cny_non_negative", CRITICAL, "released values are >= 0",
             column="value_cny", min_value=0),
         col("ExpectColumnValuesToNotBeNull", "batch_id_not_null", CRITICAL,
             "lineage: every fact row traces to its raw batch", column="_batch_id"),
         col("ExpectColumnValuesToNotBeNull", "enterprise_key_not_null", WARNING,
             "declarants outside the park registry do not count toward the targets", column="enterprise_key"),
         fk("export_date_key", "dim_date", "date_key"),
         fk("enterprise_key", "dim_enterprise", "enterprise_key"),
         fk("platform_key", "dim_platform", "platform_key"),
         fk("country_key", "dim_country", "country_key"),
         fk("currency_key", "dim_currency", "currency_key"),
         fk("trade_mode_key", "dim_trade_mode", "trade_mode_key"),
         fk("hs_product_key", "dim_hs_product", "hs_product_key"),
         fk("port_key", "dim_customs_port", "port_key"),
         fk("route_key", "dim_logistics_route", "route_key"),
         # The fact is built incrementally from the view: the same lines and CNY per day prove it
         # holds exactly the view's rows (so its not-null tests cover the view). The one check that
         # recomputes the view over every line: dbt's build no longer does it too.
         sql("value_cny_reconciles_with_staging", CRITICAL,
             "lines and CNY per export date equal staging's int_declaration_lines_cny, to the line and the fen",
             "select coalesce(m.export_date, s.export_date) as export_date, m.value_cny as marts_cny, "
             "s.value_cny as staging_cny, m.lines as marts_lines, s.lines as staging_lines "
             "from (select export_date, sum(value_cny) as value_cny, count(*) as lines from {batch} as b "
             "group by 1) as m full join (select export_date, sum(value_cny) as value_cny, count(*) as lines "
             "from staging.int_declaration_lines_cny group by 1) as s on s.export_date = m.export_date "
             "where m.value_cny is distinct from s.value_cny or m.lines is distinct from s.lines"),
     ]},
    {"name": "marts.mart_export_volume_daily", "layer": "marts", "table": ("marts", "mart_export_volume_daily"),
     "expectations": [
         col("ExpectCompoundColumnsToBeUnique", "grain_unique", CRITICAL, "grain: (export_date, trade_mode)",
             column_list=["export_date", "trade_mode"]),
         sql("export_volume_reconciles_with_facts", CRITICAL,
             "export volume per day equals the park enterprises' released lines in the four trade modes, "
             "to the fen",
             "select coalesce(m.export_date, f.export_date) as export_date, m.cny as mart_cny, f.cny as fact_cny "
             "from (select export_date, sum(export_volume_cny) as cny from {batch} as b group by 1) as m full join "
             "(select f.export_date, sum(f.value_cny) as cny from marts.fct_export_declaration_lines as f "
             "join marts.dim_enterprise as e using (enterprise_key) where f.trade_mode_key in "
             "('9610', '9710', '9810', '1210') group by 1) as f on f.export_date = m.export_date "
             "where m.cny is distinct from f.cny"),
         # Volume anomaly: the latest day against the median of the 28 days before it (needs 7).
         sql("volume_within_trailing_28_day_band", WARNING,
             "the latest day's export volume and lines within 1/3..3x the trailing 28-day median",
             "with daily as (select export_date, sum(export_volume_cny) as cny, sum(released_lines) as lines "
             "from {batch} group by 1), latest as (select * from daily order by export_date desc limit 1), "
             "band as (select count(*) as days, percentile_cont(0.5) within group (order by d.cny) as cny, "
             "percentile_cont(0.5) within group (order by d.lines) as lines from daily as d, latest as l "
             "where d.export_date >= l.export_date - 28 and d.export_date < l.export_date) "
             "select l.export_date, l.cny, l.lines, b.days, b.cny as median_cny, b.lines as median_lines "
             "from latest as l, band as b where b.days >= 7 and (l.cny not between b.cny / 3 and b.cny * 3 "
             "or l.lines not between b.lines / 3 and b.lines * 3)"),
         sql("latest_export_date_fresh", WARNING,
             "the latest export date is the last day of the latest customs data interval loaded",
             "select max(export_date) as latest_export_date, i.last_interval_day from {batch}, "
             "(select max((coalesce(data_interval_end, finished_at) at time zone 'UTC')::date - 1) as "
             "last_interval_day from audit.load_batch where feed = 'customs' and status = 'loaded') as i "
             "group by i.last_interval_day having max(export_date) < i.last_interval_day"),
     ]},
    {"name": "marts.mart_target_progress", "layer": "marts", "table": ("marts", "mart_target_progress"),
     "expectations": [
         col("ExpectTableRowCountToBeBetween", "not_empty", CRITICAL, "every metric has progress rows",
             min_value=3),
         col("ExpectColumnDistinctValuesToEqualSet", "metrics_complete", CRITICAL, "the three park targets",
             column="metric", value_set=["enterprises_introduced", "startups_incubated", "export_volume_cny"]),
         col("ExpectColumnValuesToBeBetween", "cumulative_actual_non_negative", CRITICAL,
             "cumulative figures are >= 0", column="cumulative_actual", min_value=0),
         col("ExpectColumnValuesToBeInSet", "status_known", CRITICAL, "a status of the rule in _marts__progress.yml",
             column="status", value_set=["achieved", "on track", "at risk", "behind"]),
     ]},
]

YML_PATCHES = {  # the generated great_expectations.yml, pointed at run-time folders
    "base_directory: uncommitted/validations/": "base_directory: ${" + RESULTS_VARIABLE + "}/validations/",
    "base_directory: uncommitted/data_docs/local_site/": "base_directory: ${" + RESULTS_VARIABLE + "}/data_docs/",
}


def write_project(root: Path, warehouse_url: str) -> None:
    """(Re)write the GX file context under root from SUITES (needs a reachable warehouse with the
    raw and audit tables: GX checks the data source when assets are added)."""
    import os

    import great_expectations as gx
    from great_expectations.core.partitioners import ColumnPartitionerDaily

    from parkdw.quality.sql_check import ExpectNoUnexpectedRows

    for generated in ("checkpoints", "validation_definitions", "expectations", "plugins", "uncommitted"):
        shutil.rmtree(root / generated, ignore_errors=True)
    (root / "great_expectations.yml").unlink(missing_ok=True)
    os.environ[URL_VARIABLE] = warehouse_url
    os.environ[RESULTS_VARIABLE] = str(root / "uncommitted")
    context = gx.get_context(mode="file", context_root_dir=root)
    yml = root / "great_expectations.yml"
    text = yml.read_text()
    for old, new in YML_PATCHES.items():
        text = text.replace(old, new)
    text = text.replace("\nanalytics_enabled:", "\nanalytics_enabled: false")
    yml.write_text(text + "progress_bars:\n  globally: false\n  metric_calculations: false\n")
    context = gx.get_context(mode="file", context_root_dir=root)
    source = context.data_sources.add_postgres(name=DATASOURCE, connection_string="${" + URL_VARIABLE + "}")
    definitions: dict[str, list] = {layer: [] for layer in LAYERS}
    for spec in SUITES:
        if "query" in spec:
            asset = source.add_query_asset(name=spec["name"], query=spec["query"])
            # method_name given explicitly: GX leaves defaulted fields out of the YAML, and a
            # partitioner without it reads back as a column-value partitioner.
            partitioner = ColumnPartitionerDaily(method_name="partition_on_year_and_month_and_day",
                                                 column_name=INTERVAL_COLUMN)
            batch = asset.add_batch_definition(INTERVAL_DAY, partitioner, validate_partitioner=False)
        else:
            schema, table = spec["table"]
            asset = source.add_table_asset(name=spec["name"], table_name=table, schema_name=schema)
            batch = asset.add_batch_definition_whole_table(WHOLE_TABLE)
        suite = gx.ExpectationSuite(name=spec["name"], meta={"layer": spec["layer"]})
        for e in spec["expectations"]:
            expectation = ExpectNoUnexpectedRows if e["kind"] == "ExpectNoUnexpectedRows" else getattr(
                gx.expectations, e["kind"])
            suite.add_expectation(expectation(
                **e["kwargs"], severity=e["severity"], meta={"check": e["check"], "why": e["why"]}))
        suite = context.suites.add(suite)
        definitions[spec["layer"]].append(context.validation_definitions.add(
            gx.ValidationDefinition(name=spec["name"], data=batch, suite=suite)))
    for layer, layer_definitions in definitions.items():
        context.checkpoints.add(gx.Checkpoint(
            name=layer, validation_definitions=layer_definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            # COMPLETE: the unexpected rows of SQL checks (GX caps them at 200) become samples.
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": 20},
        ))
    shutil.rmtree(root / "uncommitted", ignore_errors=True)
    shutil.rmtree(root / "plugins", ignore_errors=True)


def _check_names_unique() -> None:
    for spec in SUITES:
        names = [e["check"] for e in spec["expectations"]]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes or any(not re.fullmatch(r"[a-z0-9_]+", n) for n in names):
            raise ValueError(f"{spec['name']}: check names must be unique snake_case ({sorted(dupes)})")


_check_names_unique()

if __name__ == "__main__":
    from parkdw.quality.validate import sqlalchemy_url
    from parkdw.settings import get_settings

    write_project(get_settings().expectations_dir, sqlalchemy_url(get_settings().warehouse()))

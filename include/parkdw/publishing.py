"""Publishing the validated marts: BI access (a read-only login role) and file exports.

The BI role gets USAGE on the marts schema and SELECT on its tables, nothing on raw, staging or
audit; default privileges cover the tables dbt creates later (every rebuild makes a new table).
Exports: each mart as CSV (COPY) and Parquet (pyarrow, exact decimals), with a manifest of row
counts, sha256 checksums and the data's as-of date. Partners' text reaches the marts verbatim, so
a CSV text cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is written
with a leading apostrophe; the Parquet file keeps the value as stored.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from parkdw.ingest.landing import sha256_of
from parkdw.settings import BI_ROLE, SCHEMA_AUDIT, SCHEMA_MARTS, SCHEMA_RAW, SCHEMA_STAGING

log = logging.getLogger(__name__)

# Besides every mart_* table: the fact and the enterprise dimension partners already read.
EXTRA_EXPORTS = ("fct_export_declaration_lines", "dim_enterprise")
PRIVATE_SCHEMAS = (SCHEMA_RAW, SCHEMA_STAGING, SCHEMA_AUDIT)
TEXT_TYPES = ("text", "character varying", "character")
# OWASP's CSV-injection rule: these first characters make a spreadsheet evaluate the cell.
FORMULA_START = r"^[-=+@\t\r]"  # a PostgreSQL regular expression
CSV_TEXT_GUARD = ("text cells starting with = + - @ tab or carriage return are prefixed with an "
                  "apostrophe in CSV (spreadsheets would run them as formulas); Parquet holds them verbatim")


def refresh_bi_grants(conn: psycopg.Connection, password: str | None, role: str = BI_ROLE) -> dict:
    """The BI login role's grants: USAGE on marts, SELECT on its tables and on the tables the
    current login (dbt's transform role) builds later; nothing on raw, staging or audit
    (idempotent; commits). A login that may manage roles also creates the role and sets its
    password; the transform role may not, and finds the role made by warehouse.ensure_roles or
    the database init script."""
    from parkdw import warehouse

    ident = sql.Identifier(role)
    manages_roles = warehouse.can_manage_roles(conn)
    if manages_roles:
        warehouse.ensure_role(conn, role, None)
        if password:
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            conn.execute(sql.SQL("alter role {} with login password {}").format(ident, sql.Literal(verifier)))
        else:  # keep whatever password the role has (e.g. set when the warehouse was created)
            log.warning("PARKDW_BI_PASSWORD is not set: role %s keeps its password, if any", role)
        conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(conn.info.dbname), ident))
    elif not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
        raise RuntimeError(f"the BI role {role} does not exist and {conn.info.user} may not create it: "
                           "see deploy/warehouse-init")
    # Revoke where this login can: everywhere as a role manager, else in the schemas it owns.
    owned = [r[0] for r in conn.execute(
        "select nspname from pg_namespace where nspname = any(%s) and (%s or pg_has_role(nspowner, 'usage'))",
        (list(PRIVATE_SCHEMAS), manages_roles)).fetchall()]
    for schema in owned:
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), ident))
        conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(schema), ident))
    marts = sql.Identifier(SCHEMA_MARTS)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(marts, ident))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(marts, ident))
    conn.execute(sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(marts, ident))
    tables = conn.execute(
        "select count(*) from information_schema.tables where table_schema = %s", (SCHEMA_MARTS,)).fetchone()[0]
    conn.commit()
    log.info("BI role %s: select on %d marts tables, default privileges set", role, tables)
    return {"role": role, "marts_tables": tables, "password_set": bool(password and manages_roles)}


def export_tables(conn: psycopg.Connection) -> list[str]:
    names = [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE' "
        "and (table_name like 'mart\\_%%' or table_name = any(%s)) order by 1",
        (SCHEMA_MARTS, list(EXTRA_EXPORTS))).fetchall()]
    return names


def _columns(conn, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position", (SCHEMA_MARTS, table)).fetchall()


def _arrow_schema(conn, table: str, columns: list[tuple[str, str]]):
    """Arrow types for the table's columns; numerics as exact decimals sized to the data."""
    import pyarrow as pa

    simple = {"text": pa.string(), "character varying": pa.string(), "integer": pa.int32(),
              "bigint": pa.int64(), "smallint": pa.int16(), "boolean": pa.bool_(), "date": pa.date32(),
              "double precision": pa.float64(), "real": pa.float32(),
              "timestamp with time zone": pa.timestamp("us", tz="UTC"),
              "timestamp without time zone": pa.timestamp("us")}
    numeric = [c for c, t in columns if t == "numeric"]
    sizes = {}
    if numeric:
        parts = sql.SQL(", ").join(
            sql.SQL("coalesce(max(scale({c})), 0), coalesce(max(length(trunc(abs({c}))::text)), 1)").format(
                c=sql.Identifier(c)) for c in numeric)
        row = conn.execute(sql.SQL("select {} from {}.{}").format(
            parts, sql.Identifier(SCHEMA_MARTS), sql.Identifier(table))).fetchone()
        sizes = {c: (row[2 * i + 1], row[2 * i]) for i, c in enumerate(numeric)}
    fields = []
    for name, data_type in columns:
        if data_type == "numeric":
            int_digits, scale = sizes[name]
            kind = pa.decimal128(int_digits + scale, scale) if int_digits + scale <= 38 else pa.string()
        else:
            kind = simple.get(data_type, pa.string())
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _csv_select_list(columns: list[tuple[str, str]]) -> sql.Composable:
    """The columns as exported to CSV: text that would start a formula gets a leading apostrophe."""
    items = []
    for name, data_type in columns:
        col = sql.Identifier(name)
        if data_type in TEXT_TYPES:
            items.append(sql.SQL("case when {c} ~ {p} then {q} || {c} else {c} end as {c}").format(
                c=col, p=sql.Literal(FORMULA_START), q=sql.Literal("'")))
        else:
            items.append(col)
    return sql.SQL(", ").join(items)


def _csv_copy(table: str, columns, select_list: sql.Composable) -> sql.Composable:
    """COPY of the table's rows as CSV with a header, ordered by the stored values (t.*), not by
    the output columns (a guarded or reformatted text), so both exports hold the same order."""
    order = sql.SQL(", ").join(sql.Identifier("t", c) for c, _ in columns)
    return sql.SQL("copy (select {} from {}.{} as t order by {}) to stdout with (format csv, header)").format(
        select_list, sql.Identifier(SCHEMA_MARTS), sql.Identifier(table), order)


def _write_csv(conn, table: str, columns, path: Path) -> None:
    query = _csv_copy(table, columns, _csv_select_list(columns))
    with open(path, "wb") as f, conn.cursor().copy(query) as copy:
        for chunk in copy:
            f.write(chunk)


class _CopyStream(io.RawIOBase):
    """A COPY TO STDOUT's chunks as a binary file, for pyarrow's CSV reader."""

    def __init__(self, copy) -> None:
        self._chunks, self._pending = iter(copy), memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def _parquet_select_list(schema) -> sql.Composable:
    """The columns as the Parquet export reads them from CSV: times spelled one way (ISO 8601,
    UTC with its Z) whatever the session's DateStyle and TimeZone."""
    import pyarrow as pa

    items = []
    for field in schema:
        col = sql.Identifier(field.name)
        if pa.types.is_timestamp(field.type):
            zone = sql.SQL(" at time zone 'UTC'") if field.type.tz else sql.SQL("")
            suffix = '"Z"' if field.type.tz else ""
            items.append(sql.SQL("to_char({c}{z}, {f}) as {c}").format(
                c=col, z=zone, f=sql.Literal('YYYY-MM-DD"T"HH24:MI:SS.US' + suffix)))
        elif pa.types.is_date(field.type):
            items.append(sql.SQL("to_char({c}, 'YYYY-MM-DD') as {c}").format(c=col))
        else:
            items.append(col)
    return sql.SQL(", ").join(items)


def _write_parquet(conn, table: str, columns, path: Path) -> int:
    """The table as Parquet: PostgreSQL writes it as CSV (COPY) and pyarrow's CSV reader turns
    the text into the schema's types in C++, exact decimals included. Fetching the rows as Python
    objects took 35-37 s of client CPU for the scale-1 month's exports, this 16 s (1.28 M rows).
    A NULL is an empty field, an empty text a quoted one."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = _arrow_schema(conn, table, columns)
    query = _csv_copy(table, columns, _parquet_select_list(schema))
    options = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema}, true_values=["t"], false_values=["f"],
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False)
    rows = 0
    with conn.cursor().copy(query) as copy, pq.ParquetWriter(path, schema) as writer:
        reader = pacsv.open_csv(io.BufferedReader(_CopyStream(copy), 1 << 20),
                                read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=False),
                                # (a one-column table's NULL is an empty line)
                                parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
                                convert_options=options)
        for batch in reader:
            writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
            rows += batch.num_rows
    return rows


def write_exports(conn: psycopg.Connection, out_dir: Path, validation: str) -> dict:
    """Every mart as CSV and Parquet, rows in a stable order, and manifest.json beside them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    conn.commit()  # one snapshot for every file: a transform running meanwhile cannot mix versions
    conn.execute("set transaction isolation level repeatable read, read only")
    as_of = conn.execute(sql.SQL("select max(as_of_date) from {}.mart_target_progress").format(
        sql.Identifier(SCHEMA_MARTS))).fetchone()[0]
    manifest = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "data_as_of_date": as_of.isoformat() if as_of else None,
                "validation": validation, "csv_text_guard": CSV_TEXT_GUARD, "tables": {}}
    for table in export_tables(conn):
        columns = _columns(conn, table)
        csv_path, parquet_path = out_dir / f"{table}.csv", out_dir / f"{table}.parquet"
        _write_csv(conn, table, columns, csv_path)
        rows = _write_parquet(conn, table, columns, parquet_path)
        manifest["tables"][table] = {
            "rows": rows, "columns": [c for c, _ in columns],
            "file": csv_path.name, "sha256": sha256_of(csv_path),
            "parquet": {"file": parquet_path.name, "sha256": sha256_of(parquet_path)},
        }
    conn.commit()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    log.info("exported %d marts (CSV + Parquet) to %s", len(manifest["tables"]), out_dir)
    return manifest

"""The one configuration module: environment -> settings.

Nothing else in the project reads os.environ. The warehouse connection comes from, in order:
  1. AIRFLOW_CONN_WAREHOUSE (an Airflow connection URI or JSON), the form Airflow tasks use;
  2. WAREHOUSE_URL (a libpq URL);
  3. an embedded PostgreSQL (pgserver) under PARKDW_HOME/pgdata, started on demand and reused.
The pipeline's work logs in as its own roles (loader, transform), never as that login itself:
AIRFLOW_CONN_WAREHOUSE_LOADER / _TRANSFORM when set, else the same server and database as the
role (see `Settings.warehouse_as`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, parse_qs

REPO_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_CONN_ID = "warehouse"

# Warehouse schemas, one per layer.
SCHEMA_RAW = "raw"
SCHEMA_STAGING = "staging"
SCHEMA_MARTS = "marts"
SCHEMA_AUDIT = "audit"
LAYER_SCHEMAS = (SCHEMA_RAW, SCHEMA_STAGING, SCHEMA_MARTS, SCHEMA_AUDIT)
# The pipeline's login roles; none is a superuser or may create roles or databases.
# Ingestion writes raw and audit (it owns them) and cannot touch staging or marts:
LOADER_ROLE = "parkdw_loader"
# dbt, validation and publishing own staging and marts, read raw and audit, record validations:
TRANSFORM_ROLE = "parkdw_transform"
# BI tools read the marts schema and nothing else:
BI_ROLE = "parkdw_bi"
PIPELINE_ROLES = (LOADER_ROLE, TRANSFORM_ROLE)


@dataclass(frozen=True)
class WarehouseParams:
    """Connection parameters in the shape both libpq and an Airflow connection understand."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def conninfo(self) -> str:
        """A libpq URL (psycopg accepts it). Socket directories are passed as the host query arg."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{quote(self.dbname)}?host={quote(self.host)}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.dbname)}"

    @property
    def airflow_uri(self) -> str:
        """The same connection as an AIRFLOW_CONN_* URI (host percent-encoded, db in the path)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgres://{auth}@{quote(self.host, safe='')}:{self.port}/{quote(self.dbname)}"

    @property
    def sqlalchemy_url(self) -> str:
        """The same server as a SQLAlchemy URL (psycopg2), the form Airflow's metadata DB takes."""
        return "postgresql+psycopg2" + self.conninfo.removeprefix("postgresql")

    def with_dbname(self, dbname: str) -> "WarehouseParams":
        return WarehouseParams(self.host, self.port, self.user, self.password, dbname)

    def redacted(self) -> str:
        """For logs: never print the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def as_role(self, role: str, password: str) -> "WarehouseParams":
        return WarehouseParams(self.host, self.port, role, password, self.dbname)


def role_conn_id(role: str) -> str:
    """The Airflow connection of a pipeline role: warehouse_loader, warehouse_transform."""
    return f"{WAREHOUSE_CONN_ID}_{role.removeprefix('parkdw_')}"


@dataclass(frozen=True)
class ApiCredentials:
    base_url: str
    client_id: str
    client_secret: str

    def airflow_uri(self) -> str:
        parts = urlsplit(self.base_url)
        return (f"{parts.scheme}://{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
                f"@{parts.netloc}")


def parse_connection(value: str) -> WarehouseParams:
    """Parse an Airflow connection (URI or JSON form) or a libpq URL."""
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        return WarehouseParams(
            host=data.get("host") or "localhost",
            port=int(data.get("port") or 5432),
            user=data.get("login") or "",
            password=data.get("password") or "",
            dbname=data.get("schema") or "postgres",
        )
    parts = urlsplit(value)
    query = parse_qs(parts.query)
    # Read the host from the raw netloc: urlsplit lowercases it and socket paths arrive encoded.
    hostport = parts.netloc.rpartition("@")[2]
    host, _, port_text = hostport.rpartition(":") if re.search(r":\d+$", hostport) else (hostport, "", "")
    host = unquote(query["host"][0] if "host" in query else host)
    port = int(port_text or query.get("port", ["5432"])[0])
    return WarehouseParams(
        host=host or "localhost",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=unquote(parts.path.lstrip("/")) or "postgres",
    )


class Settings:
    """Resolved settings for one process. Build with `get_settings()`."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._env = dict(os.environ if environ is None else environ)

    # --- folders -------------------------------------------------------------------------
    @cached_property
    def home(self) -> Path:
        """Local state (embedded PostgreSQL, Airflow metadata, landing files, outputs)."""
        return Path(self._env.get("PARKDW_HOME") or REPO_ROOT / ".parkdw").resolve()

    @property
    def landing_dir(self) -> Path:
        return Path(self._env.get("PARKDW_LANDING_DIR") or self.home / "landing")

    def landing_location(self, partner: str) -> str:
        """Where a partner's files land: PARKDW_<PARTNER>_LANDING (a folder or an sftp:// URL,
        e.g. sftp://sftp.example.cn/outbox), else the local landing dir."""
        return self._env.get(f"PARKDW_{partner.upper()}_LANDING") or str(self.landing_dir)

    @property
    def output_dir(self) -> Path:
        return Path(self._env.get("PARKDW_OUTPUT_DIR") or self.home / "outputs")

    @property
    def audit_report_dir(self) -> Path:
        """Where each run writes the auditors' report (index.html)."""
        return self.output_dir / "audit"

    @property
    def gx_results_dir(self) -> Path:
        """GX validation results and Data Docs of the runs (outside the repository)."""
        return self.output_dir / "gx"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def dags_folder(self) -> Path:
        return REPO_ROOT / "dags"

    @property
    def dbt_project_dir(self) -> Path:
        return REPO_ROOT / "dbt_project"

    @property
    def dbt_target_dir(self) -> Path:
        # Under home, not in dbt_project/: two processes with their own homes (the two test
        # workers, a demo beside a test run) must never write one run_results.json together.
        return self.home / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def dbt_manifest(self) -> Path:
        return self.dbt_target_dir / "manifest.json"

    @property
    def expectations_dir(self) -> Path:
        return REPO_ROOT / "expectations"

    # --- warehouse -----------------------------------------------------------------------
    @property
    def warehouse_source(self) -> str:
        if self._env.get("AIRFLOW_CONN_WAREHOUSE"):
            return "AIRFLOW_CONN_WAREHOUSE"
        if self._env.get("WAREHOUSE_URL"):
            return "WAREHOUSE_URL"
        return "embedded"

    def warehouse(self) -> WarehouseParams:
        """Connection parameters; starts the embedded PostgreSQL when nothing is configured."""
        source = self.warehouse_source
        if source != "embedded":
            return parse_connection(self._env[source])
        return start_embedded_postgres(self.home / "pgdata")

    def role_password(self, role: str) -> str | None:
        """A pipeline role's password: PARKDW_LOADER_PASSWORD, PARKDW_TRANSFORM_PASSWORD, PARKDW_BI_PASSWORD."""
        return self._env.get(f"PARKDW_{role.removeprefix('parkdw_').upper()}_PASSWORD") or None

    def warehouse_as(self, role: str) -> WarehouseParams:
        """How the pipeline logs in as one of its roles: AIRFLOW_CONN_WAREHOUSE_LOADER /
        _TRANSFORM when set (a deployment: the database's init script made the roles); else the
        warehouse's server and database as that role, with its PARKDW_<ROLE>_PASSWORD or, unset,
        the warehouse login's own password (a local server: the project creates the roles with
        it, so one secret serves a development setup)."""
        value = self._env.get(f"AIRFLOW_CONN_{role_conn_id(role).upper()}")
        if value:
            return parse_connection(value)
        return self._role_login(self.warehouse(), role)

    def _role_login(self, warehouse: WarehouseParams, role: str) -> WarehouseParams:
        """The warehouse's server and database as a pipeline role, with its password (else the login's)."""
        return warehouse.as_role(role, self.role_password(role) or warehouse.password)

    # --- Airflow for local runs ----------------------------------------------------------
    def airflow_environment(self, warehouse: WarehouseParams, log_level: str = "WARNING") -> dict[str, str]:
        """Environment for running the project's DAGs locally (SQLite metadata under home)."""
        home = self.airflow_home
        return {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
            "AIRFLOW_CONN_WAREHOUSE": warehouse.airflow_uri,
            **{f"AIRFLOW_CONN_{role_conn_id(role).upper()}": self._role_login(warehouse, role).airflow_uri
               for role in PIPELINE_ROLES},
            "PARKDW_HOME": str(self.home),
            "PARKDW_LANDING_DIR": str(self.landing_dir),
            "PARKDW_OUTPUT_DIR": str(self.output_dir),
            "NO_PROXY": "*",
            "SCARF_ANALYTICS": "false",
            "DO_NOT_TRACK": "1",
        }

    def airflow_metadata(self) -> WarehouseParams:
        """Airflow's metadata database for the long-running local services (`parkdw airflow`,
        `parkdw celery-demo`): PARKDW_AIRFLOW_DB_URL, else a database `airflow` in the embedded
        PostgreSQL, never the warehouse database itself."""
        if self._env.get("PARKDW_AIRFLOW_DB_URL"):
            return parse_connection(self._env["PARKDW_AIRFLOW_DB_URL"])
        return start_embedded_postgres(self.home / "pgdata").with_dbname("airflow")

    def process_environment(self) -> dict[str, str]:
        """The environment as read, the base of child processes' (PATH, locale, proxies...)."""
        return dict(self._env)

    @property
    def worker_name(self) -> str | None:
        """A Celery worker's name for task_instance.hostname (several workers on one machine)."""
        return self._env.get("PARKDW_WORKER_NAME")

    # --- partner API (carriers' tracking) -----------------------------------------------------
    def tracking_api(self) -> "ApiCredentials":
        """The tracking API from AIRFLOW_CONN_TRACKING_API (an http connection: login = client
        id, password = client secret), as an Airflow task sees it."""
        value = self._env.get("AIRFLOW_CONN_TRACKING_API")
        if not value:
            raise RuntimeError("no tracking API configured: set AIRFLOW_CONN_TRACKING_API "
                               "(e.g. http://CLIENT_ID:CLIENT_SECRET@127.0.0.1:8765)")
        if value.strip().startswith("{"):
            data = json.loads(value)
            scheme = data.get("schema") or "http"
            base = f"{scheme}://{data['host']}" + (f":{data['port']}" if data.get("port") else "")
            return ApiCredentials(base, data.get("login") or "", data.get("password") or "")
        parts = urlsplit(value)
        scheme = "https" if parts.scheme == "https" else "http"
        base = f"{scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return ApiCredentials(base, unquote(parts.username or ""), unquote(parts.password or ""))

    def sandbox_credentials(self) -> tuple[str | None, str | None]:
        """Client credentials the sandbox API server accepts (random ones when unset)."""
        return self._env.get("PARKDW_SANDBOX_CLIENT_ID"), self._env.get("PARKDW_SANDBOX_CLIENT_SECRET")

    # --- BI access -----------------------------------------------------------------------------
    @property
    def bi_password(self) -> str | None:
        """Password of the BI login role (PARKDW_BI_PASSWORD); unset, the role has no password."""
        return self._env.get("PARKDW_BI_PASSWORD") or None

    def bi_warehouse(self) -> WarehouseParams:
        """How a BI tool reaches the warehouse: the warehouse's server and database, as the BI role."""
        return self.warehouse().as_role(BI_ROLE, self.bi_password or "")


def sftp_conn_id(partner: str) -> str:
    """The Airflow connection holding a partner's SFTP host, login, key and host key
    (AIRFLOW_CONN_CUSTOMS_SFTP for customs); Airflow's SFTP provider resolves it."""
    return f"{partner}_sftp"


def start_embedded_postgres(pgdata: Path) -> WarehouseParams:
    """Start (or find running) the embedded PostgreSQL and return how to reach it.

    The server trusts local socket connections; the password is a random per-install token
    kept beside the data (Cosmos' profile mapping requires one), never a fixed string.
    """
    import pgserver  # imported lazily: only the embedded default needs it

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # keep running and reuse it
    _apply_embedded_server_settings(server)
    token_file = pgdata.parent / "embedded-password"
    if not token_file.exists():
        token_file.write_text(secrets.token_urlsafe(16))
        token_file.chmod(0o600)
    params = parse_connection(server.get_uri())
    return WarehouseParams(params.host, params.port, "postgres", token_file.read_text().strip(), "postgres")


def _apply_embedded_server_settings(server) -> None:
    """The warehouse's server settings (deploy/postgresql/warehouse.conf) on the embedded server:
    set on its first start, or after the file changed; a restart, when one is needed, happens
    then and only then (nothing else is connected to a server just created)."""
    import logging

    import psycopg
    from pgserver._commands import pg_ctl

    from parkdw import warehouse  # local import: warehouse imports this module

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        applied = warehouse.apply_server_settings(conn)
    if applied["pending_restart"]:
        logging.getLogger(__name__).warning("restarting the embedded PostgreSQL to apply %s",
                                            ", ".join(applied["pending_restart"]))
        # pg_ctl restart keeps the server's own options (socket directory, no TCP) from postmaster.opts.
        pg_ctl(["-w", "-m", "fast", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user)


def worker_hostname() -> str:
    """Airflow's [core] hostname_callable: the worker's name when set, else the machine's FQDN."""
    import socket

    return get_settings().worker_name or socket.getfqdn()


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def reset_settings() -> None:
    """Forget cached settings (after the environment changed, e.g. in tests)."""
    global _settings
    _settings = None

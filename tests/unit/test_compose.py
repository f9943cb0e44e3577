"""docker-compose.yml: the real Compose v2 binary accepts it (no engine needed for `config`), and its
shape holds: services, profiles, health checks, secrets only from .env, every variable documented."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from parkdw.settings import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
# The package's bin/docker-compose wrapper always exits 0: call the binary it ships.
COMPOSE_BIN = Path(importlib.util.find_spec("compose").origin).with_name("docker-compose")
ONE_OFF = {"airflow-init", "sandbox-simulate", "metabase-setup"}
INIT_SCRIPT = REPO_ROOT / "deploy" / "warehouse-init" / "10-roles.sh"


def documented() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.M))


@pytest.fixture(scope="module")
def sample_env(tmp_path_factory) -> Path:
    """.env.example with every empty value filled in, as a user's .env would be."""
    path = tmp_path_factory.mktemp("compose") / "sample.env"
    path.write_text("".join(f"{k}={v or 'sample-' + k.lower()}\n" for k, v in documented().items()))
    return path


def compose(*args: str, env_file: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    # A clean environment: variables exported by the Makefile (from a developer's .env) must not
    # stand in for the file under test.
    return subprocess.run([str(COMPOSE_BIN), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, capture_output=True, text=True)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.mark.parametrize("profiles", [(), ("celery",), ("bi",), ("celery", "bi")])
def test_compose_binary_accepts_the_file(sample_env, tmp_path, profiles):
    args = [a for p in profiles for a in ("--profile", p)]
    result = compose(*args, "config", "-q", env_file=sample_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose("config", "-q", env_file=empty, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "in .env" in result.stderr  # the `${VAR:?set VAR in .env}` message


def test_resolved_stack_wires_the_executor_broker_and_connections(sample_env, tmp_path):
    result = compose("--profile", "celery", "config", "--format", "json", env_file=sample_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    worker = services["airflow-worker"]["environment"]
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == "redis://:sample-redis_password@redis:6379/0"
    assert worker["AIRFLOW_CONN_WAREHOUSE"] == ("postgres://parkdw_transform:sample-parkdw_transform_password"
                                                "@warehouse:5432/parkdw")
    assert worker["AIRFLOW_CONN_WAREHOUSE_LOADER"] == ("postgres://parkdw_loader:sample-parkdw_loader_password"
                                                       "@warehouse:5432/parkdw")
    assert worker["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # The metadata DB and the warehouse are separate servers.
    meta = services["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@airflow-db:5432/airflow" in meta and "warehouse" not in meta
    assert services["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_services_profiles_and_health_checks(spec):
    services = spec["services"]
    core = {"airflow-db", "warehouse", "sandbox-simulate", "sandbox-api", "airflow-init", "airflow-apiserver",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
    assert core <= set(services)
    assert all("profiles" not in services[name] for name in core)
    assert {n for n, s in services.items() if "celery" in s.get("profiles", [])} == {"redis", "airflow-worker"}
    assert {n for n, s in services.items() if "bi" in s.get("profiles", [])} == {"metabase-db", "metabase",
                                                                                  "metabase-setup"}
    for name, service in services.items():
        if name in ONE_OFF:
            assert service.get("restart") == "no", name
        else:
            assert service["healthcheck"]["test"], f"{name} has no health check"
    # Scalable workers: no fixed container name or host port on the worker.
    assert "container_name" not in services["airflow-worker"] and "ports" not in services["airflow-worker"]
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert services["airflow-apiserver"]["image"] == services["airflow-worker"]["image"] == "parkdw-airflow:latest"
    assert "apache/airflow:3.3.2" in (REPO_ROOT / "Dockerfile").read_text()


def test_bi_tool_reads_marts_through_the_read_only_role(spec):
    setup = spec["services"]["metabase-setup"]["environment"]
    assert setup["PARKDW_BI_PASSWORD"].startswith("${PARKDW_BI_PASSWORD:?")
    init = INIT_SCRIPT.read_text()
    assert "grant usage on schema marts to parkdw_bi" in init
    assert not re.search(r"grant .* on schema (raw|staging|audit)\b.* to parkdw_bi", init)
    assert not re.search(r"grant .* on schema (staging|marts)\b.* to parkdw_loader", init)
    assert '"schema-filters-patterns": "marts"' in (REPO_ROOT / "deploy" / "metabase" / "setup.py").read_text()


def test_every_variable_is_documented_and_no_secret_is_literal(spec):
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "no variables found"
    assert used <= set(documented()), f"undocumented in .env.example: {sorted(used - set(documented()))}"
    secrets = [k for k, v in documented().items() if re.search(r"PASSWORD|SECRET|FERNET", k)]
    assert secrets and all(documented()[k] == "" for k in secrets), "a secret has a value in .env.example"

    def walk(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{path}[{i}]")
        else:
            yield path, str(node)

    for path, value in walk(spec["services"]):
        if re.search(r"(PASSWORD|SECRET|FERNET_KEY|MB_DB_PASS)$", path):
            assert value.startswith("${"), f"{path} is not taken from .env"


def test_no_service_logs_in_to_the_warehouse_as_a_superuser(sample_env, tmp_path):
    """The image's POSTGRES_USER is a superuser: no service may use it. Every warehouse login a
    service has is a role the init script creates without superuser (or role / database creation)."""
    result = compose("--profile", "celery", "--profile", "bi", "config", "--format", "json",
                     env_file=sample_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    superuser = services["warehouse"]["environment"]["POSTGRES_USER"]
    init = INIT_SCRIPT.read_text()
    created = dict(re.findall(r"^create role (\w+) (.*);$", init, flags=re.M))
    assert set(created) == {"parkdw_loader", "parkdw_transform", "parkdw_bi"}
    for role, options in created.items():
        words = options.split()
        assert {"login", "nosuperuser", "nocreatedb", "nocreaterole", "nobypassrls"} <= set(words), role
        assert not {"superuser", "createdb", "createrole", "bypassrls", "replication"} & set(words), role
    assert "grant parkdw" not in init and "with superuser" not in init.lower()  # no membership, no promotion

    logins = {}
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            for user, host in re.findall(r"://([^:/@]+):[^@]*@([\w.-]+)", str(value)):
                if host == "warehouse":
                    logins.setdefault(user, set()).add(f"{name}.{key}")
    assert logins, "no service reaches the warehouse"
    assert superuser not in logins, f"{superuser} (superuser) used by {logins.get(superuser)}"
    assert set(logins) <= set(created), logins
    airflow = services["airflow-worker"]["environment"]
    assert "parkdw_loader" in airflow["AIRFLOW_CONN_WAREHOUSE_LOADER"]  # ingestion
    assert "parkdw_transform" in airflow["AIRFLOW_CONN_WAREHOUSE_TRANSFORM"]  # dbt through Cosmos
    # Layers: the loader owns raw and audit, the transform role staging and marts.
    owners = dict(re.findall(r"^create schema (\w+) authorization (\w+);$", init, flags=re.M))
    assert owners == {"raw": "parkdw_loader", "audit": "parkdw_loader", "staging": "parkdw_transform",
                      "marts": "parkdw_transform"}

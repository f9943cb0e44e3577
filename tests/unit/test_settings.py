from parkdw.settings import Settings, parse_connection


def test_airflow_uri_and_libpq_url_round_trip():
    for value in (
        "postgres://loader:s%2Fcret@db.internal:6543/warehouse",
        "postgresql://postgres@/postgres?host=/var/run/pg&port=5433",
        '{"conn_type": "postgres", "host": "h", "login": "u", "password": "p", "schema": "dw", "port": 5432}',
    ):
        params = parse_connection(value)
        assert parse_connection(params.airflow_uri) == params
        assert parse_connection(params.conninfo) == params


def test_socket_host_and_password_are_kept_exactly():
    params = parse_connection("postgres://postgres:t%2Fk@%2Ftmp%2FPgData:5432/postgres")
    assert params.host == "/tmp/PgData"
    assert params.password == "t/k"
    assert "t/k" not in params.redacted() and "t%2Fk" not in params.redacted()


def test_connection_source_precedence():
    assert Settings({"AIRFLOW_CONN_WAREHOUSE": "postgres://a@h/d", "WAREHOUSE_URL": "postgresql://b@h/d"}).warehouse().user == "a"
    assert Settings({"WAREHOUSE_URL": "postgresql://b@h:5432/d"}).warehouse().user == "b"
    assert Settings({}).warehouse_source == "embedded"


def test_local_airflow_environment_keeps_state_under_home(tmp_path):
    s = Settings({"PARKDW_HOME": str(tmp_path)})
    env = s.airflow_environment(parse_connection("postgresql://u:p@h:5432/d"))
    assert env["AIRFLOW_HOME"].startswith(str(tmp_path))
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow/airflow.db"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert parse_connection(env["AIRFLOW_CONN_WAREHOUSE"]).password == "p"


def test_airflow_metadata_database_is_never_the_warehouse_database():
    s = Settings({"WAREHOUSE_URL": "postgresql://u:p@h:5432/d", "PARKDW_AIRFLOW_DB_URL": "postgresql://a:b@m:5432/meta"})
    assert s.airflow_metadata().dbname == "meta" and s.warehouse().dbname == "d"
    url = parse_connection("postgresql://postgres:t%2Fk@/airflow?host=/tmp/pg&port=5432").sqlalchemy_url
    assert url == "postgresql+psycopg2://postgres:t%2Fk@/airflow?host=/tmp/pg&port=5432"

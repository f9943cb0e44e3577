"""The secret scan CI runs (.ci/scan_secrets.py): the repository passes, a planted secret fails."""

import subprocess
import sys

import pytest

from parkdw.settings import REPO_ROOT

SCANNER = REPO_ROOT / ".ci" / "scan_secrets.py"


def scan(repo):
    return subprocess.run([sys.executable, str(SCANNER), str(repo)], capture_output=True, text=True)


def test_the_repository_has_no_secret():
    result = scan(REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "0 finding(s)" in result.stdout


@pytest.fixture()
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "secret-scan-allowlist").write_text((REPO_ROOT / ".ci" / "secret-scan-allowlist").read_text())
    (tmp_path / ".env.example").write_text((REPO_ROOT / ".env.example").read_text())
    (tmp_path / "README.md").write_text("WAREHOUSE_URL='postgresql://user:password@host:5432/dbname'\n"
                                        "local: postgresql://postgres:test@127.0.0.1:5432/postgres\n"
                                        "AIRFLOW_CONN_WAREHOUSE: postgres://parkdw:${WAREHOUSE_PASSWORD:?set it}@warehouse/x\n")
    return tmp_path


def plant(repo, name, text):
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)


def test_documented_placeholders_pass(repo):
    plant(repo, "docs/x.md", "nothing secret\n")
    result = scan(repo)
    assert result.returncode == 0, result.stderr


# The planted secrets are assembled at run time so that this file itself passes the scan.
J = "".join


@pytest.mark.parametrize("name, text, rule", [
    ("deploy/key.txt", J(["-----BEGIN OPENSSH PRIV", "ATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIV", "ATE KEY-----\n"]),
     "private key"),
    ("include/conn.py", J(['URL = "postgresql://parkdw:', 'Hx7-q2Lr9wZ@db.park.example:5432/parkdw"\n']), "password in a URL"),
    ("include/aws.py", J(["KEY_ID = 'AKIA", "Q3EGRT7Z5YXKD2LA'\n"]), "AWS access key id"),
    ("ci.sh", J(["export GITHUB_TOKEN=gh", "p_8fR2kLm9Qz4Xv7Tn1Bw6Yc3Hj5Pd0Se2Ua4K\n"]), "GitHub token"),
    ("docker-compose.override.yml", J(["services:\n  x:\n    environment:\n      REDIS_PASSWORD: ", "s3cr3t-Redis-2026\n"]),
     "literal value for REDIS_PASSWORD"),
    (".env", "WAREHOUSE_PASSWORD=whatever\n", "a secret-bearing file is tracked"),
])
def test_a_planted_secret_fails_the_scan(repo, name, text, rule):
    plant(repo, name, text)
    result = scan(repo)
    assert result.returncode == 1
    assert f"{name}:" in result.stderr and rule in result.stderr
    for secret in ("Hx7-q2Lr9wZ", "Q3EGRT7Z5YXKD2LA", "8fR2kLm9Qz4Xv7", "s3cr3t-Redis"):
        assert secret not in result.stderr + result.stdout  # the report names the place, not the secret

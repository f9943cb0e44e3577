"""Container entrypoint of the compose `metabase-setup` service (stdlib only, runs in python:slim).

Creates the first Metabase admin (POST /api/setup with the instance's setup token) and adds the
warehouse as a data source that logs in as the read-only BI role and syncs only the marts schema.
Run again, it logs in instead and leaves an existing data source alone. Values come from the
service's environment, which compose fills from .env.
"""

import json
import os
import sys
import urllib.request

BASE = os.environ["METABASE_URL"].rstrip("/")
DATABASE_NAME = "parkdw marts"


def call(method: str, path: str, body: dict | None = None, session: str | None = None) -> dict | list:
    request = urllib.request.Request(f"{BASE}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if session:
        request.add_header("X-Metabase-Session", session)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def main() -> int:
    email, password = os.environ["METABASE_ADMIN_EMAIL"], os.environ["METABASE_ADMIN_PASSWORD"]
    token = call("GET", "/api/session/properties").get("setup-token")
    if token and not call("GET", "/api/session/properties").get("has-user-setup"):
        session = call("POST", "/api/setup", {
            "token": token,
            "user": {"email": email, "password": password, "first_name": "Park", "last_name": "Admin"},
            "prefs": {"site_name": "parkdw", "allow_tracking": False},
        })["id"]
    else:
        session = call("POST", "/api/session", {"username": email, "password": password})["id"]
    databases = call("GET", "/api/database", session=session)
    names = {d["name"] for d in (databases["data"] if isinstance(databases, dict) else databases)}
    if DATABASE_NAME not in names:
        call("POST", "/api/database", {
            "engine": "postgres",
            "name": DATABASE_NAME,
            "details": {"host": "warehouse", "port": 5432, "dbname": "parkdw", "user": "parkdw_bi",
                        "password": os.environ["PARKDW_BI_PASSWORD"], "ssl": False,
                        "schema-filters-type": "inclusion", "schema-filters-patterns": "marts"},
        }, session=session)
    print(f"metabase-setup: admin {email}; data source '{DATABASE_NAME}' (role parkdw_bi, schema marts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

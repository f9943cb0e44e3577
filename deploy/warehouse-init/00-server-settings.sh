#!/bin/bash
# Runs once, when the warehouse volume is first initialised: the server reads the project's
# settings (deploy/postgresql/warehouse.conf, mounted read-only at /etc/parkdw/warehouse.conf)
# from its next start on, which is the entrypoint's own restart after these scripts.
set -euo pipefail
echo "include_if_exists '/etc/parkdw/warehouse.conf'" >> "$PGDATA/postgresql.conf"

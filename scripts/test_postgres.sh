#!/usr/bin/env bash
# The database-backed tests (API, access, services) once more, on PostgreSQL through
# DATABASE_URL, in a test database of this run's own. `make test` runs this after the main
# suite; without a reachable PostgreSQL it says so and stops, except in CI (CI=true), where
# PostgreSQL is expected and its absence fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER="${TTS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
if ! .venv/bin/python - "$SERVER" <<'PY'
import sys

import psycopg

try:
    psycopg.connect(f"{sys.argv[1]}/postgres", connect_timeout=3).close()
except psycopg.Error as exc:
    sys.exit(f"PostgreSQL at {sys.argv[1]} is not reachable: {exc}")
PY
then
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    echo ">> skipped the PostgreSQL pass (docs/development.md says how to install PostgreSQL)"
    exit 0
fi
# The tests make their own test database; tests that start `manage.py` themselves need the
# database DATABASE_URL names to exist too.
DATABASE="tts_$$"
database() {  # database create|drop
    .venv/bin/python - "$SERVER" "$1" "$DATABASE" <<'PY'
import sys

import psycopg

server, action, name = sys.argv[1:]
with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
    if action == "create":
        admin.execute(f'CREATE DATABASE "{name}"')
    else:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PY
}
database create
trap 'database drop' EXIT
echo ">> the database-backed tests again, on PostgreSQL"
DATABASE_URL="$SERVER/$DATABASE" HF_HUB_OFFLINE=1 .venv/bin/pytest -q -p no:cacheprovider \
    tests/api tests/access tests/services

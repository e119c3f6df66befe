#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, starts the real Neo4j (unless
# TRAILGRAPH_TEST_NEO4J_URI names one), runs ruff, mypy and pytest, and stops the server it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Without TRAILGRAPH_TEST_NEO4J_URI the suite starts its own server (tests/neo4j_server.py: home
# .neo4j-test/, Bolt 17687 unless NEO4J_BOLT_PORT says otherwise) and stops it. Your NEO4J_URI and
# the server of `tools/neo4j/neo4j.sh start` (.neo4j/) are never touched.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up, start the test servers, run the test suite, and stop the servers.
# The servers get a state folder and ports of their own (.fedprov/test,
# Bolt 27687, HTTP 27474, MongoDB wire 27027), so a running main job is not
# disturbed. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$FEDPROV_REPO/scripts/setup.sh"

export FEDPROV_HOME="${FEDPROV_TEST_HOME:-$FEDPROV_REPO/.fedprov/test}"
export FEDPROV_NEO4J_BOLT_PORT="${FEDPROV_TEST_BOLT_PORT:-27687}"
export FEDPROV_NEO4J_HTTP_PORT="${FEDPROV_TEST_HTTP_PORT:-27474}"
export FEDPROV_MONGO_PORT="${FEDPROV_TEST_MONGO_PORT:-27027}"
export FEDPROV_DATA_DIR="${FEDPROV_TEST_DATA_DIR:-$FEDPROV_REPO/../shared/data/cifar10}"
unset NEO4J_URI NEO4J_USER NEO4J_PASSWORD MONGODB_URI

fedprov="$VENV/bin/fedprov"
stop_services() { "$fedprov" services down >/dev/null 2>&1 || true; }
trap stop_services EXIT

"$fedprov" services up
export MONGODB_URI="mongodb://127.0.0.1:$FEDPROV_MONGO_PORT/"

cd "$FEDPROV_REPO"
"$VENV/bin/python" -m pytest "$@"

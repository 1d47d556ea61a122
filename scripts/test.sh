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
if [ -n "${FEDPROV_TEST_DATA_DIR:-}" ]; then
  export FEDPROV_DATA_DIR="$FEDPROV_TEST_DATA_DIR"
elif shared="$(shared_cifar10)"; then
  export FEDPROV_DATA_DIR="$shared"
else
  export FEDPROV_DATA_DIR="$FEDPROV_REPO/../shared/data/cifar10"
  echo "warning: no shared/data/cifar10 beside this checkout or its origin;"     "the CIFAR-10 tests will fail (set FEDPROV_TEST_DATA_DIR)" >&2
fi
unset NEO4J_URI NEO4J_USER NEO4J_PASSWORD MONGODB_URI

# Headless Chromium drives the Neo4j Browser and dashboard tests, and
# docker-compose 1.29 validates the production compose file offline; those
# tests skip without them. As root on Debian the script installs both
# (FEDPROV_TEST_NO_APT=1 turns that off).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null 2>&1 && [ -z "${FEDPROV_TEST_NO_APT:-}" ]; then
  echo "installing Debian's ${missing[*]} for the browser and compose tests"
  apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null ||
    echo "warning: ${missing[*]} could not be installed; their tests will skip" >&2
fi

# MonetDB's embedded engine (monetdbe 0.11) has wheels for Python 3.10 only;
# where a Python 3.10 exists (on PATH or under pyenv), the MonetDB dialect is
# checked in it.
find_python310() {
  local candidate
  for candidate in python3.10 "$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' \
         >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if [ -z "${FEDPROV_TEST_MONETDBE_PYTHON:-}" ] && python310="$(find_python310)"; then
  monetdbe_venv="$FEDPROV_REPO/.fedprov/monetdbe-venv"
  if ! "$monetdbe_venv/bin/python" -c 'import monetdbe' >/dev/null 2>&1; then
    "$python310" -m venv "$monetdbe_venv" &&
      "$monetdbe_venv/bin/python" -m pip install -q "monetdbe==0.11" ||
      echo "warning: monetdbe could not be installed; the MonetDB dialect test will skip" >&2
  fi
  if "$monetdbe_venv/bin/python" -c 'import monetdbe' >/dev/null 2>&1; then
    export FEDPROV_TEST_MONETDBE_PYTHON="$monetdbe_venv/bin/python"
  fi
fi

fedprov="$VENV/bin/fedprov"
stop_services() { "$fedprov" services down >/dev/null 2>&1 || true; }
trap stop_services EXIT

"$fedprov" services up
export MONGODB_URI="mongodb://127.0.0.1:$FEDPROV_MONGO_PORT/"

cd "$FEDPROV_REPO"
"$VENV/bin/python" -m pytest "$@"

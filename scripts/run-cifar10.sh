#!/usr/bin/env bash
# Set up, start Neo4j and FerretDB, and run the CIFAR-10 federation with
# provenance: 5 clients and 3 rounds of the small CNN on the full data set by
# default. Extra arguments go to 'fedprov run cifar10' (see --help there).
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$FEDPROV_REPO/scripts/setup.sh"

if [ -z "${FEDPROV_DATA_DIR:-}" ] && shared="$(shared_cifar10)"; then
  export FEDPROV_DATA_DIR="$shared"
fi

fedprov="$VENV/bin/fedprov"
"$fedprov" services up
if [ -z "${MONGODB_URI:-}" ]; then
  export MONGODB_URI="mongodb://127.0.0.1:${FEDPROV_MONGO_PORT:-27017}/"
fi
"$fedprov" run cifar10 "$@"

# Sourced by the fedprov scripts: offline Flower and Ray, and the paths they share.
# Flower posts telemetry and update checks, its SuperLink installs app
# dependencies from PyPI, and Ray binds every interface unless told otherwise.
export FLWR_TELEMETRY_ENABLED=0
export FLWR_DISABLE_UPDATE_CHECK=1
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
export RAY_USAGE_STATS_ENABLED=0
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export HF_DATASETS_OFFLINE=1
export HF_HUB_OFFLINE=1
export PYTHONUNBUFFERED=1

FEDPROV_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FEDPROV_REPO
export MPLCONFIGDIR="${MPLCONFIGDIR:-$FEDPROV_REPO/.fedprov/mpl}"
VENV="${FEDPROV_VENV:-$FEDPROV_REPO/.venv}"

# Print the shared CIFAR-10 folder: shared/data/cifar10 beside this checkout,
# or, for a clone of a local checkout (a scratch clone in /tmp, say), beside
# the checkout it was cloned from. Fails when neither exists.
shared_cifar10() {
  local origin
  if [ -d "$FEDPROV_REPO/../shared/data/cifar10" ]; then
    (cd "$FEDPROV_REPO/../shared/data/cifar10" && pwd)
    return 0
  fi
  origin="$(git -C "$FEDPROV_REPO" config --get remote.origin.url 2>/dev/null || true)"
  if [ -n "$origin" ] && [ -d "$origin/../shared/data/cifar10" ]; then
    (cd "$origin/../shared/data/cifar10" && pwd)
    return 0
  fi
  return 1
}

"""Offline defaults for Flower and Ray, applied before either is imported.

Flower 1.42 posts telemetry and update checks by default, its SuperLink
installs each app's dependencies from PyPI, and Ray 2.5x binds every
interface unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``. fedprov sets these
variables with ``os.environ.setdefault``, so a value the user exported wins.
"""

from __future__ import annotations

import os

__all__ = ["OFFLINE_ENVIRONMENT", "apply_offline_environment"]

OFFLINE_ENVIRONMENT: dict[str, str] = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_OFFLINE": "1",
}


def apply_offline_environment() -> None:
    """Set Flower's and Ray's offline variables unless the user set them."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)

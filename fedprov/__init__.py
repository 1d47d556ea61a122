"""fedprov: W3C PROV provenance for Flower federations.

Importing fedprov sets Flower's and Ray's offline variables (telemetry, update
check and runtime dependency installation off, Ray on 127.0.0.1) unless they
are already set, so import it before ``flwr``.
"""

from __future__ import annotations

import logging

from fedprov._flower_env import apply_offline_environment

apply_offline_environment()

logging.getLogger("fedprov").addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = ["__version__"]

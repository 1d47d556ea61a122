"""Exceptions raised by fedprov.

Every error fedprov raises on purpose derives from :class:`FedProvError`::

    FedProvError
    ├── ConfigurationError    a setting, run_config value or CLI option is invalid
    ├── ServiceError          a local Neo4j or FerretDB server failed to start or stop
    │   └── PortInUseError    a port fedprov wants is taken by another process
    ├── StoreError            a database read or write failed
    │   └── AuthenticationError  the database rejected the credentials
    ├── CaptureError          a Flower hook failed to record provenance (strict mode)
    ├── ProvDocumentError     a PROV document is invalid or cannot be converted
    │   └── ValidationError   a document breaks a PROV-CONSTRAINTS rule
    ├── DataError             a data set folder is missing or incomplete
    ├── CheckpointError       a checkpoint cannot be stored, found or verified
    └── RuleError             an adjustment rule is invalid or failed
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CaptureError",
    "CheckpointError",
    "ConfigurationError",
    "DataError",
    "FedProvError",
    "PortInUseError",
    "ProvDocumentError",
    "RuleError",
    "ServiceError",
    "StoreError",
    "ValidationError",
]


class FedProvError(Exception):
    """Base class of every error fedprov raises on purpose."""


class ConfigurationError(FedProvError):
    """A setting, run_config value or command-line option is invalid."""


class ServiceError(FedProvError):
    """A local service (Neo4j, FerretDB) failed to start, respond or stop."""


class PortInUseError(ServiceError):
    """A port that fedprov needs is already taken by another process."""


class StoreError(FedProvError):
    """A read from or a write to a provenance database failed."""


class AuthenticationError(StoreError):
    """The database rejected the user name or password."""


class CaptureError(FedProvError):
    """A Flower hook failed to record provenance (raised in strict mode only)."""


class ProvDocumentError(FedProvError):
    """A PROV document is invalid or cannot be converted."""


class ValidationError(ProvDocumentError):
    """A PROV document breaks one or more PROV-CONSTRAINTS rules."""

    def __init__(self, message: str, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class DataError(FedProvError):
    """A data set folder is missing, incomplete or unreadable."""


class CheckpointError(FedProvError):
    """A checkpoint cannot be stored, found or verified."""


class RuleError(FedProvError):
    """An adjustment rule is invalid, or failed while it ran."""

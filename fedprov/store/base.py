"""The interface every provenance store offers to capture code."""

from __future__ import annotations

from typing import Protocol

from prov.model import ProvDocument

__all__ = ["ProvStore", "ReadableProvStore"]


class ProvStore(Protocol):
    """A place that accepts PROV documents, grouped by a scope.

    A scope is one run's key (``run_namespace``): several runs share a
    database, and each can be read or exported on its own. Writing the same
    document twice into the same scope must leave the store unchanged.
    """

    def write(self, scope: str, document: ProvDocument) -> None:
        """Store every record of ``document`` (bundles included) under ``scope``."""
        ...


class ReadableProvStore(ProvStore, Protocol):
    """A :class:`ProvStore` that can also give documents back and forget them."""

    def read(self, scope: str, bundle: str | None = None) -> ProvDocument:
        """Return the records stored under ``scope`` (or one of its bundles)."""
        ...

    def delete(self, scope: str) -> None:
        """Remove every record stored under ``scope``."""
        ...

    def scopes(self) -> list[str]:
        """Return the stored scopes, sorted."""
        ...

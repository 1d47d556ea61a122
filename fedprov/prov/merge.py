"""Merge several PROV documents into one."""

from __future__ import annotations

from collections.abc import Iterable

from prov.model import ProvDocument

__all__ = ["merge_documents"]


def merge_documents(documents: Iterable[ProvDocument]) -> ProvDocument:
    """Return a new document with the records, bundles and namespaces of all.

    fedprov's stores merge the records of separate writes of one scope, so
    writing the merged document stores what writing each document would.
    Namespaces that no record uses are kept, and the last default namespace
    wins.
    """
    merged = ProvDocument()
    for document in documents:
        for namespace in document.get_registered_namespaces():
            merged.add_namespace(namespace)
        default = document.get_default_namespace()
        if default is not None:
            merged.set_default_namespace(default.uri)
        merged.update(document)
    return merged

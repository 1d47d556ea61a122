"""Flower apps shipped with fedprov."""

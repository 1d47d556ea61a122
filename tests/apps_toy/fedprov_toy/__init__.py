"""A numpy linear-regression federation for fedprov's capture tests."""

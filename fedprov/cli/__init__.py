"""The ``fedprov`` command line."""

"""PROV-DM records for federations: the fedprov vocabulary and record builders."""

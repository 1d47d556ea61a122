// Index for reading, exporting and deleting one scope (idempotent).
CREATE INDEX fedprov_element_scope IF NOT EXISTS
FOR (n:Element) ON (n.scope)

// Uniqueness of the merge key of the per-scope Document node (idempotent).
CREATE CONSTRAINT fedprov_document_key IF NOT EXISTS
FOR (d:Document) REQUIRE d.key IS UNIQUE

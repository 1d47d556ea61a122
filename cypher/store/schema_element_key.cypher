// Uniqueness of the merge key of every PROV element node (idempotent).
CREATE CONSTRAINT fedprov_element_key IF NOT EXISTS
FOR (n:Element) REQUIRE n.key IS UNIQUE

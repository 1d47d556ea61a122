// Delete the Document node of a scope.
MATCH (d:Document {key: $key})
DELETE d

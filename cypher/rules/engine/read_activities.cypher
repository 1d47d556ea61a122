// The ids of the records among $keys (node keys of the used_ids a rule
// returned) that are activities. A firing is informed by each of them instead
// of using it, because PROV-CONSTRAINTS types whatever an activity uses as an
// entity, and no identifier may be both an entity and an activity.
UNWIND $keys AS key
MATCH (record:Element {key: key})
WHERE record:Activity
RETURN record.id AS id

// name: trace
// purpose: Follow one API call back to its origin: the human, service or external identity behind it,
//          through every session, role chain, console SwitchRole and cross-account copy.
// param eventId: the CloudTrail eventID of the call (example: 38d0221b-61e0-47d6-9c45-7eb2dc55125b)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per stored copy of the event: the path p from origin to call (draw it in Neo4j
//          Browser), and the same path as lists of node and edge maps; every edge on it carries
//          rule, confidence and evidence (event ids).
// example: :param eventId => '38d0221b-61e0-47d6-9c45-7eb2dc55125b'
//          :param draw => true
MATCH (call:APICall {eventId: $eventId})
MATCH p = (origin)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(call)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(origin) }
RETURN CASE WHEN coalesce($draw, true) THEN p END AS p,
       call.id AS callId,
       [n IN nodes(p) | n {.*, label: labels(n)[0]}] AS nodes,
       [r IN relationships(p) | r {.*, type: type(r)}] AS rels
ORDER BY callId

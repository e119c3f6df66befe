// name: gaps
// purpose: Where the trail runs out: sessions and calls whose origin cannot be reached (the walk back
//          ends at a cross-account caller, a session whose issuing STS call is not loaded, or a
//          caller CloudTrail recorded no identity for), grouped by the account whose logs are missing.
// param since: only calls made, and sessions created, at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ;
//          null for no lower bound (example: 2020-09-17T00:00:00Z)
// param until: only calls made, and sessions created, at or before this UTC time; null for no upper
//          bound (example: 2020-09-18T00:00:00Z)
// param account: only the gaps this account's logs would fill; null for all (example: 203016562928)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// reads: the dead ends only (cross-account callers, unknown callers, sessions with depth 0 and no
//          link) and, through the kept attribution (BEHIND), the sessions and calls behind each.
// returns: one row per (missing account, reason): reason (cross-account caller, the session's link
//          status: missing, unmatched-key or ambiguous, or no identity), counts of dead ends, calls
//          and sessions affected, first and last affected call time, and up to 5 examples each of
//          affected call event ids and dead ends (earliest first). Most calls affected first.
// example: :param since => null
//          :param until => null
//          :param account => null
//          :param draw => true
CALL () {
  MATCH (o:AccountPrincipal) RETURN o
  UNION
  MATCH (o:ExternalIdentity {type: 'Unknown'}) RETURN o
  UNION
  MATCH (o:Session {depth: 0}) WHERE o.complete = false RETURN o
}
CALL (o) {
  RETURN o AS s
  UNION
  MATCH (o)-[:BEHIND]->(s:Session) RETURN s
}
CALL (s) {
  RETURN s AS x, null AS q
  UNION
  MATCH q = (s)-[:PERFORMED]->(:APICall)-[:COPIED_TO*0..1]->(x:APICall) RETURN x, q
}
WITH o, x, q
WHERE (x:APICall AND ($since IS NULL OR x.eventTime >= $since) AND ($until IS NULL OR x.eventTime <= $until))
   OR (x:Session AND ($since IS NULL OR x.creationDate >= $since) AND ($until IS NULL OR x.creationDate <= $until))
WITH o, x, q,
     CASE WHEN o:ExternalIdentity THEN o.provider ELSE o.account END AS missingAccount,
     CASE WHEN o:AccountPrincipal THEN 'cross-account caller'
          WHEN o:Session THEN coalesce(o.link, 'missing')
          ELSE 'no identity' END AS reason
WHERE $account IS NULL OR missingAccount = $account
WITH missingAccount, reason,
     count(DISTINCT o) AS deadEnds,
     count(DISTINCT CASE WHEN x:APICall THEN x END) AS calls,
     count(DISTINCT CASE WHEN x:Session THEN x END) AS sessions,
     min(x.eventTime) AS firstSeen,
     max(x.eventTime) AS lastSeen,
     collect({time: coalesce(x.eventTime, x.creationDate), eventId: x.eventId,
              deadEnd: coalesce(o.arn, o.id)}) AS seen,
     collect(q)[..5] AS p
CALL (seen) {
  UNWIND seen AS s
  WITH s.eventId AS e, min(s.time) AS t WHERE e IS NOT NULL
  ORDER BY t, e LIMIT 5
  RETURN collect(e) AS exampleCalls
}
CALL (seen) {
  UNWIND seen AS s
  WITH s.deadEnd AS d, min(s.time) AS t
  ORDER BY t, d LIMIT 5
  RETURN collect(d) AS exampleDeadEnds
}
RETURN CASE WHEN coalesce($draw, true) THEN p END AS p,
       missingAccount AS account,
       reason,
       deadEnds,
       calls,
       sessions,
       firstSeen,
       lastSeen,
       exampleCalls,
       exampleDeadEnds,
       CASE reason
         WHEN 'cross-account caller' THEN 'load the CloudTrail of the caller account'
         WHEN 'no identity' THEN 'CloudTrail recorded no usable identity; nothing to load'
         ELSE 'load the CloudTrail (with STS events, all regions) of the account that issued the session'
       END AS hint
ORDER BY calls DESC, sessions DESC, account, reason

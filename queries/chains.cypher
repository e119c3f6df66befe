// name: chains
// purpose: Role chains: sessions created from other sessions (a session makes an STS call that
//          issues the next session, repeated), each maximal chain once, longest first.
// param crossAccountOnly: true to keep only chains that cross an account boundary; null or false
//          for all (example: true)
// param minHops: keep chains with at least this many issued sessions; null means 1 (example: 2)
// param since: keep chains with an issuing STS call at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ;
//          null for no lower bound (example: 2020-09-17T00:00:00Z)
// param until: keep chains with an issuing STS call at or before this UTC time; null for no upper
//          bound (example: 2020-09-18T00:00:00Z)
// param account: keep chains with a session in this AWS account; null for all (example: 776613361644)
// param limit: at most this many chains, in the order below (longest first); null for all
//          (example: 50)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// reads: only sessions whose kept attribution puts a session before them (depth 2 or more off the depth
//          index, or depth 1 behind a dead end's BEHIND edges), and the paths back of the chains kept.
// returns: one row per chain: hops, crossAccount, the sessions' accounts, ARNs and ids in order,
//          the issuing calls (event ids) with how each hop was linked (via, linkedBy, confidence),
//          the first and last hop times, the origin behind the first session (complete or not),
//          and the path from origin to the last session as compact node and edge maps.
// example: :param crossAccountOnly => false
//          :param minHops => 1
//          :param since => null
//          :param until => null
//          :param account => null
//          :param limit => 50
//          :param draw => true
CALL () {
  MATCH (last:Session) WHERE last.depth >= 2 RETURN last
  UNION
  MATCH (:Session {depth: 0})-[:BEHIND]->(last:Session {depth: 1}) RETURN last
}
WITH last
WHERE EXISTS { MATCH (:Session)-[:PERFORMED]->(:APICall)-[:ISSUED]->(last) }
  AND NOT EXISTS { MATCH (last)-[:PERFORMED]->(:APICall)-[:ISSUED]->(:Session) }
MATCH c = (first:Session)-[:PERFORMED|ISSUED*2..80]->(last)
WHERE NOT EXISTS { MATCH (:Session)-[:PERFORMED]->(:APICall)-[:ISSUED]->(first) }
WITH c, first, last,
     [x IN nodes(c) WHERE x:Session] AS chainSessions,
     [x IN nodes(c) WHERE x:APICall] AS chainCalls,
     [x IN relationships(c) WHERE type(x) = 'ISSUED'] AS issued
WITH c, first, last, chainSessions, chainCalls, issued,
     coalesce(any(i IN range(0, size(chainSessions) - 2)
                  WHERE chainSessions[i].account <> chainSessions[i + 1].account), false) AS crossAccount
WHERE size(issued) >= coalesce($minHops, 1)
  AND (NOT coalesce($crossAccountOnly, false) OR crossAccount)
  AND any(x IN chainCalls WHERE ($since IS NULL OR x.eventTime >= $since)
                            AND ($until IS NULL OR x.eventTime <= $until))
  AND ($account IS NULL OR any(x IN chainSessions WHERE x.account = $account))
WITH c, first, last, chainSessions, chainCalls, issued, crossAccount
ORDER BY size(issued) DESC, chainCalls[0].eventTime, first.id, last.id
LIMIT coalesce($limit, 4611686018427387904)
MATCH q = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(first)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) }
RETURN CASE WHEN coalesce($draw, true) THEN [q, c] END AS p,
       size(issued) AS hops,
       crossAccount,
       [x IN chainSessions | x.account] AS accounts,
       [x IN chainSessions | coalesce(x.arn, x.id)] AS sessions,
       [x IN chainSessions | x.id] AS sessionIds,
       [x IN chainCalls | x.eventId] AS calls,
       [x IN issued | coalesce(x.via, type(x))] AS via,
       [x IN issued | x.rule] AS linkedBy,
       [x IN issued | x.confidence] AS confidence,
       chainCalls[0].eventTime AS firstAt,
       last(chainCalls).eventTime AS lastAt,
       first.id AS startSession,
       last.id AS endSession,
       coalesce(o.arn, o.userId, o.subject, o.id) AS origin,
       labels(o)[0] AS originLabel,
       CASE WHEN o:ExternalIdentity THEN o.type WHEN o:Service THEN 'AWSService'
            WHEN o:AccountPrincipal THEN 'AWSAccount' ELSE labels(o)[0] END AS originType,
       CASE WHEN o:IAMUser OR o:Root OR o:Service THEN true
            WHEN o:ExternalIdentity THEN o.type <> 'Unknown' ELSE false END AS complete,
       [x IN nodes(q) + tail(nodes(c)) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(q) + relationships(c) | {type: type(x), via: coalesce(x.via, type(x)),
                                 rule: x.rule, confidence: x.confidence,
                                 evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY hops DESC, firstAt, startSession, endSession

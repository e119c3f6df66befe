// name: activity
// purpose: Everything one principal did: every session they started, across accounts and role
//          chains, and every call made in those sessions (the trace edges followed forward).
// param principal: an IAM user or root ARN, a SAML or web-identity subject, an Identity Center user
//          id or name, an AWS service principal, an access key id (then its user or session(s)
//          are the start), a session id, or a session ARN that is not also a user's (example:
//          arn:aws:iam::203016562928:user/bob@example.com)
// param since: only sessions created and calls made at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ;
//          null for no lower bound (example: 2020-09-17T00:00:00Z)
// param until: only sessions created and calls made at or before this UTC time; null for no upper
//          bound (example: 2020-09-18T00:00:00Z)
// param account: only sessions and calls in this AWS account; null for all (example: 776613361644)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per session or call reached from the principal: kind (session|call), time,
//          depth (sessions between the principal and the row, the row's own session included),
//          the call's event fields, eventId (for a session: the call that issued it, else the first
//          evidence of how it was opened, else its first call), the session it ran in, how it was reached (via, linkedBy,
//          confidence), and the path from the principal as compact node and edge maps.
// example: :param principal => 'arn:aws:iam::203016562928:user/bob@example.com'
//          :param since => null
//          :param until => null
//          :param account => null
//          :param draw => true
CALL () {
  MATCH (u:IAMUser {id: $principal}) RETURN u AS start
  UNION
  MATCH (u:Root {id: $principal}) RETURN u AS start
  UNION
  MATCH (x:ExternalIdentity) WHERE x.id = $principal OR x.subject = $principal OR x.userId = $principal
  RETURN x AS start
  UNION
  MATCH (x:ExternalIdentity) WHERE $principal IN [x.id, x.subject, x.userId] AND x.userId IS NOT NULL
  MATCH (s:Session {onBehalfOfUserId: x.userId}) RETURN s AS start
  UNION
  MATCH (s:Session {onBehalfOfUserId: $principal}) RETURN s AS start
  UNION
  MATCH (v:Service {id: $principal}) RETURN v AS start
  UNION
  MATCH (:AccessKey {id: $principal})-[:KEY_OF]->(holder) RETURN holder AS start
  UNION
  MATCH (s:Session) WHERE s.id = $principal
    OR s.arn = $principal AND NOT EXISTS { MATCH (u:IAMUser|Root {id: $principal}) } RETURN s AS start
}
MATCH p = (start)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(n)
WHERE n:Session OR n:APICall
WITH p, start, n, CASE WHEN n:APICall THEN n.eventTime ELSE n.creationDate END AS time
WHERE ($since IS NULL OR time >= $since) AND ($until IS NULL OR time <= $until)
  AND ($account IS NULL OR n.account = $account)
WITH p, start, n, time, [x IN nodes(p) WHERE x:Session] AS sessions, last(relationships(p)) AS r
RETURN CASE WHEN coalesce($draw, true) THEN p END AS p,
       coalesce(start.arn, start.userId, start.subject, start.id) AS principal,
       CASE WHEN n:APICall THEN 'call' ELSE 'session' END AS kind,
       time,
       size(sessions) AS depth,
       n.id AS id,
       coalesce(n.eventId, last([x IN nodes(p) WHERE x:APICall]).eventId, head(coalesce(r.evidence, [])),
                COLLECT { MATCH (n)-[:PERFORMED]->(x:APICall) RETURN x.eventId
                          ORDER BY x.eventTime, x.eventId LIMIT 1 }[0]) AS eventId,
       n.eventName AS eventName,
       n.eventSource AS eventSource,
       n.account AS account,
       n.region AS region,
       n.sourceIPAddress AS sourceIPAddress,
       n.errorCode AS errorCode,
       n.readOnly AS readOnly,
       n.userAgent AS userAgent,
       last(sessions).id AS sessionId,
       last(sessions).arn AS sessionArn,
       coalesce(n.accessKeyId, last(sessions).accessKeyId) AS accessKeyId,
       CASE WHEN r IS NULL THEN null ELSE coalesce(r.via, type(r)) END AS via,
       r.rule AS linkedBy,
       r.confidence AS confidence,
       [x IN nodes(p) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(p) | {type: type(x), via: coalesce(x.via, type(x)), rule: x.rule,
                                 confidence: x.confidence, evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY principal, time, depth, kind DESC, id

// name: timeline
// purpose: What happened, in time order: every call made by a principal (or a session) and by the
//          sessions it led to, with the session and the event details of each.
// param principal: a principal as for activity (IAM user or root ARN, SAML or web-identity subject,
//          Identity Center user id or name, service principal, access key id), or a session ARN or
//          session id (example: arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com)
// param since: only calls made at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ; null for no lower
//          bound (example: 2020-09-17T00:00:00Z)
// param until: only calls made at or before this UTC time; null for no upper bound
//          (example: 2020-09-18T00:00:00Z)
// param account: only calls recorded in this AWS account; null for all (example: 776613361644)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per call (each once), oldest first: time, the event fields, the actor that made it
//          and its session, the origin behind it, and the path from origin to call as compact node
//          and edge maps.
// example: :param principal => 'arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com'
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
  MATCH (s:Session) WHERE s.id = $principal OR s.arn = $principal RETURN s AS start
}
MATCH (start)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(c:APICall)
WHERE ($since IS NULL OR c.eventTime >= $since) AND ($until IS NULL OR c.eventTime <= $until)
  AND ($account IS NULL OR c.account = $account)
WITH DISTINCT c
MATCH q = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(c)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) }
WITH q, o, c, [x IN nodes(q) WHERE NOT x:APICall] AS principals, [x IN nodes(q) WHERE x:Session] AS sessions
RETURN CASE WHEN coalesce($draw, true) THEN q END AS p,
       c.eventTime AS time,
       c.id AS callId,
       c.eventId AS eventId,
       c.eventName AS eventName,
       c.eventSource AS eventSource,
       c.account AS account,
       c.region AS region,
       c.sourceIPAddress AS sourceIPAddress,
       c.userAgent AS userAgent,
       c.errorCode AS errorCode,
       c.readOnly AS readOnly,
       c.accessKeyId AS accessKeyId,
       coalesce(last(principals).arn, last(principals).userId, last(principals).subject,
                last(principals).id) AS actor,
       last(sessions).id AS sessionId,
       last(sessions).name AS sessionName,
       last(sessions).creationDate AS sessionCreated,
       coalesce(o.arn, o.userId, o.subject, o.id) AS origin,
       CASE WHEN o:IAMUser OR o:Root OR o:Service THEN true
            WHEN o:ExternalIdentity THEN o.type <> 'Unknown' ELSE false END AS complete,
       [x IN nodes(q) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(q) | {type: type(x), via: coalesce(x.via, type(x)), rule: x.rule,
                                 confidence: x.confidence, evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY time, callId, origin

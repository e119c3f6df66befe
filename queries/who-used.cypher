// name: who-used
// purpose: Who used this role: every session of the role and the origin behind each one (the human,
//          service or external identity, or where the evidence runs out), complete or not.
// param roleArn: the role's ARN (with its path), or its bare name to match it in every account
//          (example: arn:aws:iam::776613361644:role/assume-admin-role-example)
// param since: keep sessions created, or with calls made, at or after this UTC time,
//          YYYY-MM-DDTHH:MM:SSZ; null for no lower bound (example: 2020-09-17T00:00:00Z)
// param until: keep sessions created, or with calls made, at or before this UTC time; null for no
//          upper bound (example: 2020-09-18T00:00:00Z)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per session of the role: the session (id, ARN, name, key, creation, link status),
//          its calls in the window (count, first, last: kept on the session when there is no
//          window, so only a window reads them), its origin (id, label, type, complete),
//          the hops from origin to session (via), and that path as compact node and edge maps.
// example: :param roleArn => 'arn:aws:iam::776613361644:role/assume-admin-role-example'
//          :param since => null
//          :param until => null
//          :param draw => true
MATCH (role:Role)
WHERE role.id = $roleArn OR role.name = $roleArn
MATCH (s:Session)-[:SESSION_OF]->(role)
CALL (s) {
  WITH s WHERE $since IS NOT NULL OR $until IS NOT NULL OR s.callCount IS NULL
  MATCH (s)-[:PERFORMED]->(c:APICall)
  WHERE ($since IS NULL OR c.eventTime >= $since) AND ($until IS NULL OR c.eventTime <= $until)
  RETURN count(c) AS inWindow, min(c.eventTime) AS firstIn, max(c.eventTime) AS lastIn
}
WITH role, s, $since IS NULL AND $until IS NULL AND s.callCount IS NOT NULL AS kept, inWindow, firstIn,
     lastIn
WITH role, s, CASE WHEN kept THEN s.callCount ELSE inWindow END AS calls,
     CASE WHEN kept THEN CASE WHEN s.firstCall <> '' THEN s.firstCall END ELSE firstIn END AS firstCall,
     CASE WHEN kept THEN CASE WHEN s.lastCall <> '' THEN s.lastCall END ELSE lastIn END AS lastCall
WHERE calls > 0
   OR (($since IS NULL OR s.creationDate >= $since) AND ($until IS NULL OR s.creationDate <= $until))
MATCH q = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(s)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) }
RETURN CASE WHEN coalesce($draw, true) THEN q END AS p,
       role.id AS roleArn,
       s.id AS sessionId,
       s.arn AS sessionArn,
       s.name AS sessionName,
       s.account AS account,
       s.accessKeyId AS accessKeyId,
       s.creationDate AS creationDate,
       s.link AS link,
       s.sourceIdentity AS sourceIdentity,
       s.onBehalfOfUserId AS onBehalfOfUserId,
       calls,
       firstCall,
       lastCall,
       coalesce(o.arn, o.userId, o.subject, o.id) AS origin,
       labels(o)[0] AS originLabel,
       CASE WHEN o:ExternalIdentity THEN o.type WHEN o:Service THEN 'AWSService'
            WHEN o:AccountPrincipal THEN 'AWSAccount' ELSE labels(o)[0] END AS originType,
       CASE WHEN o:IAMUser OR o:Root OR o:Service THEN true
            WHEN o:ExternalIdentity THEN o.type <> 'Unknown' ELSE false END AS complete,
       [x IN relationships(q) WHERE type(x) <> 'PERFORMED' | coalesce(x.via, type(x))] AS via,
       [x IN nodes(q) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(q) | {type: type(x), via: coalesce(x.via, type(x)), rule: x.rule,
                                 confidence: x.confidence, evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY roleArn, creationDate, sessionId, origin

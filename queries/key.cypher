// name: key
// purpose: One access key: who holds it (AKIA: its IAM user; ASIA: its session, or several sessions
//          since temporary ids get reused), the origin behind each holder, and the calls made with it.
// param accessKeyId: the access key id as CloudTrail shows it (example: ASIA3JUODO7W6YEVI655)
// param since: only calls made at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ; null for no lower
//          bound (example: 2020-09-17T00:00:00Z)
// param until: only calls made at or before this UTC time; null for no upper bound
//          (example: 2020-09-18T00:00:00Z)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per call made with the key (one row with null call fields for a holder with no
//          call in the window): the key and its kind, the holder (label, id, ARN, creation,
//          expiration, link status), the holder's origin (complete or not), the call's event fields,
//          and the path from origin to holder as compact node and edge maps.
// example: :param accessKeyId => 'ASIA3JUODO7W6YEVI655'
//          :param since => null
//          :param until => null
//          :param draw => true
MATCH (k:AccessKey {id: $accessKeyId})-[:KEY_OF]->(h)
MATCH q = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(h)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) }
OPTIONAL MATCH e = (h)-[used:PERFORMED]->(c:APICall)
  WHERE used.accessKeyId = $accessKeyId
    AND ($since IS NULL OR c.eventTime >= $since) AND ($until IS NULL OR c.eventTime <= $until)
RETURN CASE WHEN coalesce($draw, true) THEN [q, e] END AS p,
       k.id AS accessKeyId,
       k.kind AS keyKind,
       labels(h)[0] AS holderLabel,
       h.id AS holderId,
       coalesce(h.arn, h.id) AS holder,
       h.creationDate AS created,
       h.expiration AS expires,
       h.link AS link,
       coalesce(o.arn, o.userId, o.subject, o.id) AS origin,
       labels(o)[0] AS originLabel,
       CASE WHEN o:ExternalIdentity THEN o.type WHEN o:Service THEN 'AWSService'
            WHEN o:AccountPrincipal THEN 'AWSAccount' ELSE labels(o)[0] END AS originType,
       CASE WHEN o:IAMUser OR o:Root OR o:Service THEN true
            WHEN o:ExternalIdentity THEN o.type <> 'Unknown' ELSE false END AS complete,
       c.id AS callId,
       c.eventId AS eventId,
       c.eventTime AS eventTime,
       c.eventName AS eventName,
       c.eventSource AS eventSource,
       c.account AS account,
       c.region AS region,
       c.sourceIPAddress AS sourceIPAddress,
       c.errorCode AS errorCode,
       [x IN nodes(q) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(q) | {type: type(x), via: coalesce(x.via, type(x)), rule: x.rule,
                                 confidence: x.confidence, evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY created, holderId, origin, eventTime, callId

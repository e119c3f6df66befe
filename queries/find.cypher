// name: find
// purpose: Find API calls by what they were: event name, service, account, region, source IP, user
//          agent, error, write or read, any value in the request or response, time, and who was
//          behind them; newest first, each with its origin, so `trace EVENT_ID` is the next step.
// param eventName: a regular expression the whole eventName must match, case-insensitive (the CLI's
//          --event-name glob GetPassword* becomes GetPassword.*); null for any (example: 'Create.*')
// param source: the eventSource, e.g. iam.amazonaws.com; null for any (example: 'iam.amazonaws.com')
// param principal: only calls made by this principal or by the sessions it led to, named as for
//          activity (user ARN, subject, Identity Center user, service, access key id, session ARN or
//          id); null for anyone (example: 'arn:aws:iam::203016562928:user/bob@example.com')
// param account: the account the call is recorded in; null for all (example: '776613361644')
// param region: the awsRegion; null for all (example: 'us-east-1')
// param ip: the sourceIPAddress; null for any (example: null)
// param userAgent: text the userAgent contains, case-insensitive; null for any (example: null)
// param error: '*' for calls that failed with any errorCode, or one errorCode; null for all
//          (example: null)
// param writeOnly: true for calls CloudTrail marks readOnly false; null or false for all
//          (example: null)
// param contains: text that requestParameters or responseElements (as stored JSON) contains,
//          case-sensitive, e.g. a user or bucket name; null for any (example: 'test-no-permission')
// param since: only calls at or after this UTC time, YYYY-MM-DDTHH:MM:SSZ; null for no lower bound
//          (example: null)
// param until: only calls at or before this UTC time; null for no upper bound (example: null)
// param limit: at most this many calls, the newest; null for 50 (example: 50)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the nodes and rels columns) (example: true)
// returns: one row per call (per origin, if the trail forks), newest first: eventId, time, eventName,
//          eventSource, account, region, source IP, user agent, errorCode, readOnly, the actor that
//          made it, the origin behind it with completeness, and the path from origin to call.
// example: :param eventName => 'Create.*'
//          :param source => 'iam.amazonaws.com'
//          :param principal => 'arn:aws:iam::203016562928:user/bob@example.com'
//          :param account => '776613361644'
//          :param region => 'us-east-1'
//          :param ip => null
//          :param userAgent => null
//          :param error => null
//          :param writeOnly => null
//          :param contains => 'test-no-permission'
//          :param since => null
//          :param until => null
//          :param limit => 50
//          :param draw => true
CALL () {
  CALL () {
    MATCH (u:IAMUser {id: $principal}) RETURN u AS start
    UNION
    MATCH (u:Root {id: $principal}) RETURN u AS start
    UNION
    MATCH (v:Service {id: $principal}) RETURN v AS start
    UNION
    MATCH (x:ExternalIdentity) WHERE $principal IN [x.id, x.subject, x.userId] RETURN x AS start
    UNION
    MATCH (x:ExternalIdentity) WHERE $principal IN [x.id, x.subject, x.userId] AND x.userId IS NOT NULL
    MATCH (s:Session {onBehalfOfUserId: x.userId}) RETURN s AS start
    UNION
    MATCH (s:Session {onBehalfOfUserId: $principal}) RETURN s AS start
    UNION
    MATCH (:AccessKey {id: $principal})-[:KEY_OF]->(holder) RETURN holder AS start
    UNION
    MATCH (s:Session) WHERE s.id = $principal
      OR s.arn = $principal AND NOT EXISTS { MATCH (u:IAMUser|Root {id: $principal}) } RETURN s AS start
  }
  RETURN collect(start) AS starts
}
MATCH (c:APICall)
WHERE c.eventTime >= coalesce($since, '') AND c.eventTime <= coalesce($until, '~')
  AND ($eventName IS NULL OR c.eventName =~ ('(?i)' + $eventName))
  AND ($source IS NULL OR c.eventSource = $source)
  AND ($account IS NULL OR c.account = $account)
  AND ($region IS NULL OR c.region = $region)
  AND ($ip IS NULL OR c.sourceIPAddress = $ip)
  AND ($userAgent IS NULL OR toLower(c.userAgent) CONTAINS toLower($userAgent))
  AND ($error IS NULL OR ($error = '*' AND c.errorCode IS NOT NULL) OR c.errorCode = $error)
  AND ($writeOnly IS NULL OR $writeOnly = false OR c.readOnly = false)
  AND ($contains IS NULL OR c.requestParameters CONTAINS $contains
       OR c.responseElements CONTAINS $contains)
  AND ($principal IS NULL
       OR EXISTS { MATCH (s)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(c) WHERE s IN starts })
WITH c ORDER BY c.eventTime DESC, c.id DESC LIMIT coalesce($limit, 50)
MATCH q = (o)-[:OPENED|PERFORMED|ISSUED|COPIED_TO*0..40]->(c)
WHERE NOT EXISTS { MATCH ()-[:OPENED|PERFORMED|ISSUED|COPIED_TO]->(o) }
WITH q, o, c, [x IN nodes(q) WHERE NOT x:APICall] AS principals
RETURN CASE WHEN coalesce($draw, true) THEN q END AS p,
       c.eventId AS eventId,
       c.eventTime AS time,
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
       coalesce(o.arn, o.userId, o.subject, o.id) AS origin,
       labels(o)[0] AS originLabel,
       CASE WHEN o:ExternalIdentity THEN o.type WHEN o:Service THEN 'AWSService'
            WHEN o:AccountPrincipal THEN 'AWSAccount' ELSE labels(o)[0] END AS originType,
       CASE WHEN o:IAMUser OR o:Root OR o:Service THEN true
            WHEN o:ExternalIdentity THEN o.type <> 'Unknown' ELSE false END AS complete,
       c.id AS callId,
       [x IN nodes(q) | {key: labels(x)[0] + ':' + x.id, label: labels(x)[0], id: x.id,
                         name: coalesce(x.arn, x.userId, x.subject, x.eventName, x.id),
                         kind: coalesce(x.kind, x.type, x.eventSource), account: x.account,
                         time: coalesce(x.eventTime, x.creationDate), accessKeyId: x.accessKeyId,
                         eventId: x.eventId, mfa: x.mfa, link: x.link, errorCode: x.errorCode}] AS nodes,
       [x IN relationships(q) | {type: type(x), via: coalesce(x.via, type(x)), rule: x.rule,
                                 confidence: x.confidence, evidence: coalesce(x.evidence, [])}] AS rels
ORDER BY time DESC, callId DESC, origin

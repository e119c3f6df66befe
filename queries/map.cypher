// name: map
// purpose: Who reached which roles, aggregated for the organisation map: every role session, read with
//          the attribution it keeps (origin, complete, depth, first gap), grouped by the hop that
//          made it (from the origin, or from a session of another role) and the role it opened.
// param since: keep sessions created, or with calls made, at or after this UTC time,
//          YYYY-MM-DDTHH:MM:SSZ; null for no lower bound (example: 2020-09-17T00:00:00Z)
// param until: keep sessions created, or with calls made, at or before this UTC time; null for no
//          upper bound (example: 2020-09-18T00:00:00Z)
// param account: only roles in this account; null for every account (example: 776613361644)
// param draw: true or null to return the path column p for Neo4j Browser to draw; false to leave
//          it out (scripts, and the CLI, which reads the other columns) (example: true)
// reads: every role and its sessions with the calls and attribution each keeps (callCount, firstCall,
//          lastCall; BEHIND and its properties), each session's calls only in a time window, and one
//          hop back: the call that issued it and that caller's role.
// returns: one row per (role, the role whose session issued it or null, origin, first gap): the role
//          (ARN, name, account), fromRole, the origin (id, label, type, display name, complete), the
//          account whose logs are missing and why (incomplete ones), counts of sessions, console
//          sessions, sessions with MFA and calls in the window, the deepest chain (principal hops
//          from the origin), first and last session creation, and up to 40 sessions (newest first)
//          with the call that issued each.
// example: :param since => null
//          :param until => null
//          :param account => '776613361644'
//          :param draw => true
MATCH (s:Session)-[:SESSION_OF]->(role:Role)
WHERE $account IS NULL OR role.account = $account
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
CALL (s) {
  OPTIONAL MATCH (issuing:APICall)-[:ISSUED]->(s)
  OPTIONAL MATCH (prev:Session)-[:PERFORMED]->(:APICall)-[:COPIED_TO*0..1]->(issuing)
  OPTIONAL MATCH (prev)-[:SESSION_OF]->(from:Role)
  RETURN min(issuing.eventId) AS issuedBy, min(from.id) AS fromRole
}
OPTIONAL MATCH (o)-[:BEHIND]->(s)
WITH role, s, calls, firstCall, lastCall, issuedBy, fromRole,
     coalesce(o.arn, o.userId, o.subject, o.id, s.originId) AS origin
ORDER BY coalesce(s.creationDate, '') DESC, s.id
WITH role, fromRole, s.originLabel AS originLabel, s.originId AS originId, s.originType AS originType,
     origin, s.complete AS complete,
     CASE WHEN s.gapAccount <> '' THEN s.gapAccount END AS gapAccount,
     CASE WHEN s.gapReason <> '' THEN s.gapReason END AS gapReason,
     count(s) AS sessions,
     sum(CASE WHEN s.console = true THEN 1 ELSE 0 END) AS console,
     sum(CASE WHEN s.mfa = true THEN 1 ELSE 0 END) AS mfa,
     sum(calls) AS calls,
     max(s.depth) AS maxDepth,
     min(s.creationDate) AS first,
     max(s.creationDate) AS last,
     collect([s, calls, firstCall, lastCall, issuedBy])[..40] AS newest
WITH *, [x IN newest | x[0]] AS shown
RETURN CASE WHEN coalesce($draw, true)
         THEN COLLECT { UNWIND shown AS x MATCH b = ()-[:BEHIND]->(x) RETURN b LIMIT 5 }
            + COLLECT { UNWIND shown[..5] AS x MATCH r = (x)-[:SESSION_OF]->(role) RETURN r } END AS p,
       role.id AS roleArn,
       role.name AS roleName,
       role.account AS roleAccount,
       fromRole,
       originLabel,
       originId,
       originType,
       origin,
       complete,
       gapAccount,
       gapReason,
       sessions,
       console,
       mfa,
       calls,
       maxDepth,
       first,
       last,
       [x IN newest | {id: x[0].id, arn: x[0].arn, created: x[0].creationDate, calls: x[1],
                       firstCall: x[2], lastCall: x[3], console: coalesce(x[0].console = true, false),
                       mfa: coalesce(x[0].mfa = true, false), depth: x[0].depth, issuedBy: x[4]}] AS examples
ORDER BY roleArn, fromRole, originLabel, originId, originType, origin, complete, gapAccount, gapReason

"""Kept attribution: what each Session remembers of its walk back, re-decided with every link above it.

Pure: the stores read a session's path back (the trace path, by indexed steps) and its kept properties,
and write what `kept_attribution` returns. The answer comes from `trace.attribution`, the same reading a
trace gives, so the index cannot disagree with a fresh walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from trailgraph.facts import EdgeKey, GraphBatch, NodeRef, Props
from trailgraph.link import LinkFacts, copy_groups
from trailgraph.trace import ATTRIBUTION, attribution

MAX_DEPTH = 40
"""As far as the trace walks back; also how many levels of issued sessions one link re-decides."""


CALLS = ("callCount", "firstCall", "lastCall", "sharedCalls")
"""What each Session also keeps of its calls (PERFORMED edges): how many, the first and last eventTime
("" with none), and how many have a sharedEventID (only those can have a cross-account copy). `map`
reads them instead of every call when it has no time window; `gaps` too, and looks for copies only of
the sessions whose `sharedCalls` is not 0."""


def kept_calls(calls: Iterable[tuple[Any, Any]]) -> Props:
    """A session's kept call summary from all its calls' (eventTime, sharedEventId): what a recount
    writes (a re-decided PERFORMED edge, a store that kept none), and what `add_calls` must equal."""
    count, shared, present = 0, 0, []
    for t, shared_event_id in calls:
        count += 1
        shared += shared_event_id is not None
        if t is not None:
            present.append(t)
    return {
        "callCount": count,
        "firstCall": min(present, default=""),
        "lastCall": max(present, default=""),
        "sharedCalls": shared,
    }


def add_calls(kept: Props, calls: Iterable[tuple[Any, Any]]) -> Props:
    """`kept_calls` of a session after these calls, new to the store, from what it kept before (a
    session that kept nothing is new: it had made none). A session kept from before `sharedCalls`
    existed keeps none until it is recounted: its copies are then looked for call by call."""
    new = kept_calls(calls)
    if not isinstance(kept.get("callCount"), int):
        return new
    ends = [t for t in (kept.get("firstCall"), kept.get("lastCall"), new["firstCall"], new["lastCall"]) if t]
    out = {
        "callCount": kept["callCount"] + new["callCount"],
        "firstCall": min(ends, default=""),
        "lastCall": max(ends, default=""),
    }
    if isinstance(kept.get("sharedCalls"), int):
        out["sharedCalls"] = kept["sharedCalls"] + new["sharedCalls"]
    return out


def to_count(nodes: Iterable[NodeRef], edges: Iterable[EdgeKey]) -> set[str]:
    """The sessions whose kept calls a write may change: those it writes (a new one counts none yet),
    and those among its edges' sources that PERFORMED a call."""
    return {i for label, i in nodes if label == "Session"} | {
        src[1] for t, src, _dst in edges if t == "PERFORMED" and src[0] == "Session"
    }


def attribution_slots(facts: LinkFacts, slots: set[str], shared: set[str]) -> set[str]:
    """The slots whose sessions' attribution a decision may change: those decided, and those issued by
    calls whose copy group was decided (a new caller copy changes who made the issuing call)."""
    groups = copy_groups(facts, shared)
    return set(slots) | {
        c["issuedSlot"] for c in facts.calls if c.get("sharedEventId") in groups and c.get("issuedSlot")
    }


def kept_attribution(path: list[dict[str, Any]], kept: dict[str, Any]) -> GraphBatch | None:
    """The session's new attribution (properties and its BEHIND edge), or None if `kept` already holds it.
    `path` runs from the origin to the session; absent gaps are kept as "" so a later one is overwritten."""
    session = path[-1]
    decided = attribution(path)
    props = {k: ("" if decided[k] is None else decided[k]) for k in ATTRIBUTION}
    if all(kept.get(k) == v for k, v in props.items()):
        return None
    out = GraphBatch()
    out.node("Session", session["id"], **props)
    if len(path) > 1:
        out.edge(
            "BEHIND",
            (decided["originLabel"], decided["originId"]),
            ("Session", session["id"]),
            group=f"attr:{session['id']}",
            depth=decided["depth"],
        )
    return out


def attribute_levels(
    slots: set[str],
    paths: Callable[[set[str]], Iterable[tuple[list[dict[str, Any]], dict[str, Any]]]],
    write: Callable[[GraphBatch, list[str]], None],
    issued_slots: Callable[[list[str]], set[str]],
) -> None:
    """Keep the attribution of every session in these slots current, then of the sessions they issued,
    level by level (what a link decides can complete a whole chain below it). A store gives each
    session's path back and kept properties (`paths`), writes the changed ones (`write`, with their
    keys) and names the slots their calls issued (`issued_slots`)."""
    done: set[str] = set()
    for _ in range(MAX_DEPTH):
        slots -= done
        if not slots:
            return
        done |= slots
        batch, changed = GraphBatch(), []
        for path, kept in paths(slots):
            decided = kept_attribution(path, kept)
            if decided is not None:
                batch.merge(decided)
                changed.append(f"Session:{path[-1]['id']}")
        if not changed:
            return
        write(batch, changed)
        slots = issued_slots(changed)

"""The investigator's commands: one per canned question, plus `queries`, `query` and `cypher`.

Registered on `trailgraph.cli.main` when cli.py imports this module. Every command runs the same
canned query on either backend (the .cypher file on Neo4j, its networkx twin on the embedded store),
so answers do not depend on where the graph lives. Exit codes follow cli.py: 0 found, 1 nothing
found for the given principal, key or role, 2 usage error, 3 the store cannot be used.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from trailgraph.cli import EXIT_NOT_FOUND, backend_options, err, main, with_store
from trailgraph.pictures import FORMATS as PICTURE_FORMATS
from trailgraph.pictures import has_paths, render_picture, render_rows
from trailgraph.queries_catalog import CannedQuery
from trailgraph.render import Column, fit_table
from trailgraph.store.base import GraphStore
from trailgraph.summary import CallFilter, glob_regex
from trailgraph.timefilter import window, window_options

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
PATH_QUERIES = frozenset({"trace", "activity", "who-used", "chains", "key", "timeline"})
DATA_FORMATS = ("table", "json", "jsonl")
Row = dict[str, Any]


def format_option(pictures: bool) -> Callable[[F], F]:
    choices = [*DATA_FORMATS, *(PICTURE_FORMATS if pictures else ())]
    text = "table for people; json (one array) or jsonl (one object per line) for scripts"
    if pictures:
        text += "; dot (Graphviz), graphml, or html (one offline interactive page) to draw the chains"
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default="table", show_default=True, help=text + "."
    )


def output_option(fn: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="Write to this file instead of standard output (handy for --format html).",
    )(fn)


def _quiet_driver() -> None:
    """The Neo4j driver logs every server notice (an unused property key...) as a warning on stderr."""
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        err.print(f"[dim]wrote {escape(output)}[/dim]")
    elif text:
        click.echo(text, nl=not text.endswith("\n"))


def _json_rows(rows: Sequence[Row], fmt: str) -> Iterator[bytes]:
    """The rows as one indented JSON array, or JSON lines, a row at a time."""
    if fmt == "jsonl":
        yield from (orjson.dumps(r, default=str) + b"\n" for r in rows)
        return
    for i, r in enumerate(rows):
        # inside a JSON string a newline is escaped: every raw one is indentation
        yield (b",\n  " if i else b"[\n  ") + orjson.dumps(
            r, option=orjson.OPT_INDENT_2, default=str
        ).replace(b"\n", b"\n  ")
    yield b"\n]\n" if rows else b"[]\n"


def _emit_rows(rows: Sequence[Row], fmt: str, output: str | None) -> None:
    """JSON written as it is made: a long answer is never held as one string beside its rows."""
    if output:
        with open(output, "wb") as f:
            f.writelines(_json_rows(rows, fmt))
        err.print(f"[dim]wrote {escape(output)}[/dim]")
    else:
        sys.stdout.flush()  # what click.echo wrote goes first
        sys.stdout.buffer.writelines(_json_rows(rows, fmt))
        sys.stdout.buffer.flush()


def _cell(value: Any) -> Text:
    """Every value as plain Text: record strings are attacker-chosen and must never be read as markup."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style="green" if value else "red")
    if isinstance(value, Lines):
        return Text("\n".join(str(v) for v in value))
    if isinstance(value, list):
        return Text(" → ".join("-" if v is None else str(v) for v in value))
    if isinstance(value, dict):
        return Text(orjson.dumps(value).decode())
    return Text(str(value))


def _short(arn: Any) -> Any:
    """Session and user ARNs shortened for tables: `assumed-role/admin/bob` -> `admin/bob`."""
    if isinstance(arn, str) and arn.startswith("arn:"):
        tail = arn.split(":", 5)[-1]
        for prefix in ("assumed-role/", "user/", "federated-user/", "role/"):
            if tail.startswith(prefix):
                return f"{tail[len(prefix) :]} ({arn.split(':')[4]})"
        return tail
    return arn


class Lines(tuple[Any, ...]):
    """A table cell of several lines (None parts left out)."""


def _lines(*parts: Any) -> Lines:
    return Lines(p for p in parts if p is not None and p != "")


def _linked(rule: Any, confidence: Any) -> Any:
    return f"{rule} ({confidence})" if rule else None


# column title -> how to get it from a row; the json formats always carry every column
TABLES: dict[str, list[tuple[str, Callable[[Row], Any]]]] = {
    "find": [
        ("time", lambda r: r["time"]),
        ("eventId", lambda r: r["eventId"]),
        ("call", lambda r: _lines(r["eventName"], r["errorCode"])),
        ("account", lambda r: _lines(r["account"], r["region"])),
        ("actor", lambda r: str(_short(r["actor"])).removesuffix(f" ({r['account']})")),
        (
            "origin",
            lambda r: _lines(_short(r["origin"]), r["originType"], None if r["complete"] else "incomplete"),
        ),
        ("source IP", lambda r: r["sourceIPAddress"]),
    ],
    "activity": [
        ("time", lambda r: r["time"]),
        ("eventId", lambda r: r["eventId"]),
        ("depth", lambda r: r["depth"]),
        (
            "what",
            lambda r: (
                _lines(r["eventName"], r["errorCode"])
                if r["kind"] == "call"
                else _lines("session", _short(r["sessionArn"]))
            ),
        ),
        ("account", lambda r: r["account"]),
        ("key", lambda r: r["accessKeyId"]),
        ("reached via", lambda r: _lines(r["via"], _linked(r["linkedBy"], r["confidence"]))),
        ("source IP", lambda r: r["sourceIPAddress"]),
    ],
    "who-used": [
        ("created", lambda r: r["creationDate"]),
        ("session", lambda r: _lines(r["sessionName"], r["accessKeyId"], r["link"])),
        ("calls", lambda r: _lines(r["calls"], r["lastCall"] and f"last {r['lastCall']}")),
        ("origin", lambda r: _lines(_short(r["origin"]), r["originType"])),
        ("complete", lambda r: r["complete"]),
        ("via", lambda r: r["via"]),
    ],
    "chains": [
        ("hops", lambda r: r["hops"]),
        ("sessions", lambda r: Lines(_short(s) for s in r["sessions"])),
        (
            "linked by",
            lambda r: Lines(
                f"{v}: {_linked(x, c)}"
                for v, x, c in zip(r["via"], r["linkedBy"], r["confidence"], strict=False)
            ),
        ),
        ("first at", lambda r: r["firstAt"]),
        ("cross-account", lambda r: r["crossAccount"]),
        ("origin", lambda r: _lines(_short(r["origin"]), r["originType"])),
        ("complete", lambda r: r["complete"]),
    ],
    "key": [
        ("holder", lambda r: _lines(_short(r["holder"]), r["created"] and f"created {r['created']}")),
        ("origin", lambda r: _lines(_short(r["origin"]), r["originType"])),
        ("complete", lambda r: r["complete"]),
        ("time", lambda r: r["eventTime"]),
        ("call", lambda r: _lines(r["eventName"], r["errorCode"])),
        ("account", lambda r: r["account"]),
        ("source IP", lambda r: r["sourceIPAddress"]),
    ],
    "gaps": [
        ("missing account", lambda r: r["account"]),
        ("reason", lambda r: r["reason"]),
        ("calls", lambda r: r["calls"]),
        ("sessions", lambda r: r["sessions"]),
        ("dead ends", lambda r: r["deadEnds"]),
        ("seen", lambda r: _lines(*dict.fromkeys((r["firstSeen"], r["lastSeen"])))),
        ("example calls", lambda r: Lines(r["exampleCalls"][:3])),
    ],
    "timeline": [
        ("time", lambda r: r["time"]),
        ("eventId", lambda r: r["eventId"]),
        ("call", lambda r: _lines(r["eventName"], r["errorCode"])),
        ("account", lambda r: r["account"]),
        ("actor", lambda r: _lines(_short(r["actor"]), r["accessKeyId"])),
        ("source IP", lambda r: r["sourceIPAddress"]),
        ("origin", lambda r: _lines(_short(r["origin"]), None if r["complete"] else "(incomplete)")),
    ],
}


def _generic_columns(rows: list[Row]) -> list[tuple[str, Callable[[Row], Any]]]:
    names = [k for k in rows[0] if k not in ("nodes", "rels")] if rows else []

    def getter(name: str) -> Callable[[Row], Any]:
        return lambda r: r.get(name)

    return [(name, getter(name)) for name in names]


def _table(rows: list[Row], columns: list[tuple[str, Callable[[Row], Any]]], title: str) -> None:
    if not rows:
        return
    console = Console()
    cells: list[list[str | Text]] = [[_cell(get(row)) for _name, get in columns] for row in rows]
    fit_table(console, [Column(name) for name, _get in columns], cells, title=title, show_lines=True)
    hints = sorted({str(r["hint"]) for r in rows if r.get("hint")})
    for hint in hints:
        console.print(Text(f"• {hint}", style="dim"))


def show(rows: Sequence[Row], fmt: str, output: str | None, *, query: str, title: str) -> None:
    """Rows in the chosen format: json/jsonl keep every column and are written as rows are made;
    pictures (which need path-shaped rows) and tables draw the whole answer."""
    if fmt in ("json", "jsonl"):
        _emit_rows(rows, fmt, output)
        return
    listed = list(rows)
    if fmt in PICTURE_FORMATS:
        if query == "activity" and fmt == "html":
            from trailgraph.timelinepic import render_timeline

            _emit(render_timeline(listed, title), output)
        elif query == "trace":
            from trailgraph.trace import build_trace

            answers = [build_trace(r["nodes"][-1], r["nodes"], r["rels"]) for r in listed]
            _emit(render_picture(answers, fmt), output)
        elif not listed or has_paths(listed):
            _emit(render_rows(listed, fmt, title), output)
        else:
            raise click.UsageError(f"{query} rows carry no paths to draw; use --format table, json or jsonl")
    elif output:
        _emit_rows(listed, "json", output)
    else:
        _table(listed, TABLES.get(query) or _generic_columns(listed), title)


def _answer(
    store: GraphStore,
    query: str,
    params: dict[str, Any],
    fmt: str,
    output: str | None,
    *,
    title: str,
    subject: str | None,
    post: Callable[[Sequence[Row]], Sequence[Row]] | None = None,
    summary: Callable[[Sequence[Row]], None] | None = None,
) -> int:
    _quiet_driver()
    rows = store.run(query, params)
    if post is not None:
        rows = post(rows)
    if summary is not None and rows and fmt == "table" and not output:
        summary(rows)
    else:
        show(rows, fmt, output, query=query, title=title)
    if rows:
        err.print(f"[dim]{len(rows)} row(s)[/dim]")
        return 0
    if subject is None:
        err.print(f"[dim]{escape(title)}: nothing in {escape(store.describe())}[/dim]")
        return 0
    when = " in that time window" if params.get("since") or params.get("until") else ""
    err.print(f"[red]not found:[/red] nothing for {escape(subject)}{when} in {escape(store.describe())}")
    return EXIT_NOT_FOUND


ACCOUNT_HELP = "Only rows in this AWS account (12 digits)."
PRINCIPAL_FORMS = (
    "a full ARN, an IAM user name (bob@example.com), an Identity Center user name or id, a SAML or "
    "web-identity subject, an AWS service principal, a role session name, a session ARN or an access key id"
)


def resolved(store: GraphStore, name: str) -> str | None:
    """The value the canned queries take for what the investigator typed, said on stderr; None (after
    saying why: candidates, or not found with the store and its size) when there is not exactly one."""
    from trailgraph.resolve import resolve

    answer = resolve(store, name)
    if answer.chosen is None:
        label = "ambiguous" if answer.options else "not found"
        hint = ""
        if not answer.options and ":role/" in name:
            hint = f"; that is a role: trailgraph who-used {name}"
        err.print(f"[red]{label}:[/red] {escape(answer.message + hint)}")
        return None
    err.print(f"[dim]principal: {escape(answer.message)}[/dim]")
    return answer.chosen.value


def call_filter_options(fn: F) -> F:
    """--event-name, --write-only, --errors and --limit, for the commands that list calls."""
    fn = click.option(
        "--limit", type=click.IntRange(min=1), default=None, metavar="N", help="Only the N newest calls."
    )(fn)
    fn = click.option("--errors", is_flag=True, help="Only calls that failed (with an errorCode).")(fn)
    fn = click.option(
        "--write-only", is_flag=True, help="Only calls CloudTrail marks readOnly false (changes)."
    )(fn)
    fn = click.option(
        "--event-name",
        metavar="GLOB",
        default=None,
        help="Only calls whose eventName matches, case-insensitive (Delete*, Get?assword*).",
    )(fn)
    return fn


def _is_call(row: Row) -> bool:
    return bool(row.get("kind", "call") == "call")


def _summary_table(console: Console, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A summary table drawn like every other: values never cut or split (render.fit_table)."""
    fit_table(console, [Column(c) for c in columns], [[_cell(v) for v in row] for row in rows], title=title)


def print_summary(principal: str) -> Callable[[Sequence[Row]], None]:
    def render(rows: Sequence[Row]) -> None:
        from trailgraph.summary import activity_summary

        s = activity_summary(rows)
        console = Console()
        span = f" from {s['firstCall']} to {s['lastCall']}" if s["calls"] else ""
        console.print(
            Text(
                f"{principal}: {s['sessionCount']} session(s), {s['calls']} call(s){span}; "
                f"{s['writeCalls']} write call(s), {s['errorCalls']} failed",
                style="bold",
            )
        )
        if s["sessions"]:
            cells = [
                [g["account"], g["role"], g["sessions"], g["first"], g["last"],
                 Lines(f"{v['value']}: {v['count']}" for v in g["reachedVia"])]
                for g in s["sessions"]
            ]  # fmt: skip
            columns = ["account", "role or user", "sessions", "first", "last", "reached via"]
            _summary_table(console, "sessions opened", columns, cells)
        if s["byEventName"]:
            counts = ("calls", "writes", "errors")
            cells = [[e["eventName"], *(e[k] for k in counts)] for e in s["byEventName"][:15]]
            if len(s["byEventName"]) > 15:
                rest = s["byEventName"][15:]
                cells.append([f"… {len(rest)} more event names", *(sum(e[k] for e in rest) for k in counts)])
            _summary_table(console, "calls by event name", ["eventName", *counts], cells)
        for title, key in (("errors", "errors"), ("source IPs", "sourceIPs"), ("user agents", "userAgents")):
            if s[key]:
                cells = [[v["value"], v["count"]] for v in s[key][:10]]
                if len(s[key]) > 10:
                    rest = s[key][10:]
                    cells.append([f"… {len(rest)} more", sum(v["count"] for v in rest)])
                _summary_table(console, title, [title, "calls"], cells)
        console.print(
            Text("• every row, each with its eventId: --calls (or --format json); then trailgraph trace "
                 "EVENT_ID", style="dim")
        )  # fmt: skip

    return render


@main.command()
@click.argument("principal")
@window_options
@click.option("--account", metavar="ACCOUNT_ID", default=None, help=ACCOUNT_HELP)
@call_filter_options
@click.option("--calls", is_flag=True, help="Every session and call row, not the summary.")
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def activity(
    store: GraphStore,
    principal: str,
    since: str | None,
    until: str | None,
    account: str | None,
    event_name: str | None,
    write_only: bool,
    errors: bool,
    limit: int | None,
    calls: bool,
    fmt: str,
    output: str | None,
) -> int:
    """Everything PRINCIPAL did: a summary first, then (--calls) every session and call.

    PRINCIPAL is what you would type: a full ARN, an IAM user name (bob@example.com), an Identity
    Center user name or id, a SAML or web-identity subject, an AWS service principal, a role
    session name, a session ARN or an access key id. One match is used and named on stderr; several
    are listed (exit 1); none says so, naming the store. The walk follows every hop forward, across
    role chains and accounts; `depth` counts the sessions in between.

    The summary: sessions opened (by account and role, with times and how each was reached), calls
    by eventName, write calls, errors, source IPs and user agents. --calls, --format json or jsonl
    give every row, each with an eventId to pass to `trailgraph trace`. The filters drop calls;
    sessions stay as their context.

    \b
    Examples:
      trailgraph activity bob@example.com
      trailgraph activity arn:aws:iam::203016562928:user/bob@example.com --since 7d --write-only --calls
      trailgraph activity AKIAIOSFODNN7EXAMPLE --errors --format json
      trailgraph activity alice@example.com --event-name 'Delete*' --format html -o alice.html

    Exit status: 0 when something was found, 1 when nothing (in the window) or the name is not one
    principal, 3 store errors.
    """
    value = resolved(store, principal)
    if value is None:
        return EXIT_NOT_FOUND
    keep = CallFilter(event_name, write_only, errors, limit)
    params = {"principal": value, **window(since, until), "account": account}
    return _answer(
        store,
        "activity",
        params,
        fmt,
        output,
        title=f"activity of {value}",
        subject=value,
        post=lambda rows: keep.apply(rows, is_call=_is_call),
        summary=None if calls else print_summary(value),
    )


_SERVICE = re.compile(r"^[a-z0-9-]+$")


@main.command()
@click.option(
    "--event-name",
    metavar="GLOB",
    default=None,
    help="eventName matches, case-insensitive: GetPasswordData, 'Delete*', 'Get?ecret*'.",
)
@click.option(
    "--source", metavar="SERVICE", default=None, help="eventSource: iam.amazonaws.com, or just iam."
)
@click.option(
    "--principal",
    metavar="NAME",
    default=None,
    help=f"Only calls made by this principal or the sessions it led to: {PRINCIPAL_FORMS}.",
)
@click.option("--account", metavar="ACCOUNT_ID", default=None, help="Recorded in this account.")
@click.option("--region", metavar="REGION", default=None, help="awsRegion, e.g. us-east-1.")
@click.option("--ip", metavar="ADDRESS", default=None, help="sourceIPAddress, exactly.")
@click.option("--user-agent", metavar="TEXT", default=None, help="userAgent contains TEXT (any case).")
@click.option(
    "--error",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[CODE]",
    help="Failed calls: any errorCode, or only CODE (AccessDenied, Client.UnauthorizedOperation).",
)
@click.option("--write-only", is_flag=True, help="Only calls CloudTrail marks readOnly false.")
@click.option(
    "--contains",
    metavar="TEXT",
    default=None,
    help="requestParameters or responseElements contain TEXT (exact case): a user, bucket, instance id...",
)
@window_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many calls, the newest.",
)
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def find(
    store: GraphStore,
    event_name: str | None,
    source: str | None,
    principal: str | None,
    account: str | None,
    region: str | None,
    ip: str | None,
    user_agent: str | None,
    error: str | None,
    write_only: bool,
    contains: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
    output: str | None,
) -> int:
    """Find API calls by what they were, newest first, each with the origin behind it.

    Start here when you know what happened but not its eventID ("someone deleted the trail", "who
    touched bucket X"); every row carries the eventId for the next step, `trailgraph trace EVENT_ID`.
    Filters combine (all must hold). The search walks the calls newest first along the eventTime
    index and stops at --limit, so --since/--until make a search of a large store faster.

    \b
    Examples:
      trailgraph find --event-name DeleteTrail
      trailgraph find --event-name 'Get*' --source ec2 --error
      trailgraph find --contains my-bucket --write-only --since 7d
      trailgraph find --principal bob@example.com --account 776613361644 --format jsonl
      trailgraph search --ip 203.0.113.7 --user-agent boto3 --limit 200

    Exit status: 0 when calls were found, 1 when none (or --principal is not one principal), 3 store
    errors.
    """
    if source is not None and _SERVICE.match(source):
        source = f"{source}.amazonaws.com"
    value = None
    if principal is not None:
        value = resolved(store, principal)
        if value is None:
            return EXIT_NOT_FOUND
    params = {
        "eventName": None if event_name is None else glob_regex(event_name),
        "source": source,
        "principal": value,
        "account": account,
        "region": region,
        "ip": ip,
        "userAgent": user_agent,
        "error": error,
        "writeOnly": write_only or None,
        "contains": contains,
        **window(since, until),
        "limit": limit,
    }
    given = [f"--{k} {v}" for k, v in (("event-name", event_name), ("source", source), ("principal", value),
             ("account", account), ("region", region), ("ip", ip), ("user-agent", user_agent),
             ("error", error), ("contains", contains)) if v is not None]  # fmt: skip
    code = _answer(
        store, "find", params, fmt, output, title="calls found",
        subject="a call with " + (" ".join(given) or "any filter") + (" --write-only" if write_only else ""),
    )  # fmt: skip
    if code == 0 and fmt == "table" and not output:
        err.print("[dim]next: trailgraph trace EVENT_ID (any eventId above)[/dim]")
    return code


main.add_command(
    click.Command(
        "search", callback=find.callback, params=find.params, help=find.help, short_help="The same as find."
    )
)


@main.command("who-used")
@click.argument("role_arn")
@window_options
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def who_used(
    store: GraphStore, role_arn: str, since: str | None, until: str | None, fmt: str, output: str | None
) -> int:
    """Who used the role ROLE_ARN: each of its sessions and the origin behind it.

    ROLE_ARN is the role's ARN with its path, or the bare role name to match it in every account.
    Each session shows its calls in the window and its origin (the human, service or external
    identity), or, marked incomplete, the furthest point the evidence reaches.

    \b
    Examples:
      trailgraph who-used arn:aws:iam::776613361644:role/assume-admin-role-example
      trailgraph who-used OrganizationAccountAccessRole --since 24h
      trailgraph who-used admin --format dot -o admin.dot && dot -Tsvg admin.dot > admin.svg

    Exit status: 0 when the role had sessions (in the window), 1 when none, 3 store errors.
    """
    params = {"roleArn": role_arn, **window(since, until)}
    return _answer(store, "who-used", params, fmt, output, title=f"who used {role_arn}", subject=role_arn)


@main.command()
@click.option("--cross-account-only", is_flag=True, help="Only chains that cross an account boundary.")
@click.option(
    "--min-hops",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Only chains with at least this many issued sessions.",
)
@window_options
@click.option(
    "--account", metavar="ACCOUNT_ID", default=None, help="Only chains with a session in this account."
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    metavar="N",
    help="At most N chains, the longest first; 0 for all (an organisation has tens of thousands).",
)
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def chains(
    store: GraphStore,
    cross_account_only: bool,
    min_hops: int,
    since: str | None,
    until: str | None,
    account: str | None,
    limit: int,
    fmt: str,
    output: str | None,
) -> int:
    """Role chains: sessions that created other sessions, longest first.

    A chain is a session making an STS call (AssumeRole...) that issued the next session, repeated;
    each maximal chain is listed once with its accounts, how each hop was linked, and the origin
    behind its first session.

    \b
    Examples:
      trailgraph chains
      trailgraph chains --cross-account-only --min-hops 2 --since 30d
      trailgraph chains --limit 0 --format jsonl > all-chains.jsonl
      trailgraph chains --format html -o chains.html

    Exit status: 0 (also when there is no chain), 3 store errors.
    """
    params = {
        "crossAccountOnly": cross_account_only,
        "minHops": min_hops,
        **window(since, until),
        "account": account,
        "limit": limit + 1 if limit else None,  # one more, to say whether there are more
    }
    more: list[bool] = []

    def trim(rows: Sequence[Row]) -> Sequence[Row]:
        more.append(bool(limit) and len(rows) > limit)
        return rows[:limit] if limit else rows

    code = _answer(store, "chains", params, fmt, output, title="role chains", subject=None, post=trim)
    if limit and any(more):
        err.print(f"[dim]the {limit} longest chains; --limit 0 lists them all[/dim]")
    return code


@main.command()
@click.argument("access_key_id")
@window_options
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def key(
    store: GraphStore, access_key_id: str, since: str | None, until: str | None, fmt: str, output: str | None
) -> int:
    """One access key: who holds it, who is behind that holder, and what the key did.

    An AKIA key belongs to an IAM user; an ASIA key to a session (temporary ids get reused, so
    possibly several sessions). One row per call made with the key. ACCESS_KEY_ID may also name a
    principal as `activity` takes it: the one key it used is shown, or its keys are listed.

    \b
    Examples:
      trailgraph key ASIA3JUODO7W6YEVI655
      trailgraph key AKIAIOSFODNN7EXAMPLE --since 2024-03-01 --until 2024-03-02 --format jsonl

    Exit status: 0 when the key is known, 1 when not, 3 store errors.
    """
    key_id = key_of(store, access_key_id)
    if key_id is None:
        return EXIT_NOT_FOUND
    params = {"accessKeyId": key_id, **window(since, until)}
    return _answer(store, "key", params, fmt, output, title=f"key {key_id}", subject=key_id)


def key_of(store: GraphStore, name: str) -> str | None:
    """An access key id as given, or the one key a named principal used (several are listed)."""
    if any(r["label"] == "AccessKey" and r["id"] == name for r in store.named(name)):
        return name
    value = resolved(store, name)
    if value is None:
        return None
    rows = store.run("activity", {"principal": value, "since": None, "until": None, "account": None})
    holders: dict[str, set[str]] = {}
    for r in rows:
        if r.get("accessKeyId"):
            holders.setdefault(r["accessKeyId"], set()).add(str(r.get("sessionArn") or value))
    if len(holders) == 1:
        only = next(iter(holders))
        err.print(f"[dim]key: {escape(only)}, the only access key {escape(value)} used[/dim]")
        return only
    if not holders:
        err.print(f"[red]not found:[/red] {escape(value)} used no access key in {escape(store.describe())}")
        return None
    listed = "\n".join(f"  {k}    {', '.join(sorted(v))}" for k, v in sorted(holders.items()))
    err.print(
        f"[red]ambiguous:[/red] {escape(value)} used {len(holders)} access keys; give one of these:\n"
        + escape(listed)
    )
    return None


@main.command()
@window_options
@click.option(
    "--account", metavar="ACCOUNT_ID", default=None, help="Only the gaps that this account's logs would fill."
)
@format_option(pictures=False)
@output_option
@backend_options
@with_store
def gaps(
    store: GraphStore, since: str | None, until: str | None, account: str | None, fmt: str, output: str | None
) -> int:
    """Where the trail runs out, by the account whose logs are missing.

    Counts the sessions and calls whose origin cannot be reached: the walk back ends at a
    cross-account caller (load the caller account's trail), at a session whose issuing STS call is
    not loaded (load the issuing account's trail, all regions), or at a caller CloudTrail recorded
    no identity for. Examples of each are listed: `trailgraph trace EVENT_ID` shows one in full.

    \b
    Examples:
      trailgraph gaps
      trailgraph gaps --since 7d --format json

    Exit status: 0 (also when there is no gap), 3 store errors.
    """
    params = {**window(since, until), "account": account}
    return _answer(store, "gaps", params, fmt, output, title="gaps in the trail", subject=None)


@main.command()
@click.argument("principal_or_session")
@window_options
@click.option("--account", metavar="ACCOUNT_ID", default=None, help="Only calls recorded in this account.")
@call_filter_options
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def timeline(
    store: GraphStore,
    principal_or_session: str,
    since: str | None,
    until: str | None,
    account: str | None,
    event_name: str | None,
    write_only: bool,
    errors: bool,
    limit: int | None,
    fmt: str,
    output: str | None,
) -> int:
    """Every call made by a principal or session (and the sessions it led to), oldest first.

    PRINCIPAL_OR_SESSION is anything `activity` takes, or a session ARN
    (arn:aws:sts::ACCOUNT:assumed-role/ROLE/NAME: every session of that name) or a session id.
    Every row has the call's eventId, for `trailgraph trace`.

    \b
    Examples:
      trailgraph timeline arn:aws:sts::776613361644:assumed-role/assume-admin-role-example/bob@example.com
      trailgraph timeline arn:aws:iam::203016562928:user/bob@example.com --since 2020-09-17 --until 2020-09-17
      trailgraph timeline ASIA3JUODO7W6YEVI655 --format jsonl

    Exit status: 0 when calls were found (in the window), 1 when none, 3 store errors.
    """
    value = resolved(store, principal_or_session)
    if value is None:
        return EXIT_NOT_FOUND
    keep = CallFilter(event_name, write_only, errors, limit)
    params = {"principal": value, **window(since, until), "account": account}
    return _answer(
        store,
        "timeline",
        params,
        fmt,
        output,
        title=f"timeline of {value}",
        subject=value,
        post=keep.apply,
    )


@main.command("queries")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_queries(fmt: str) -> None:
    """List the canned queries: what each answers and its parameters.

    Each is a readable .cypher file (paste it into Neo4j Browser with the `:param` lines of its
    header) and has an embedded twin giving the same rows. Run any with `trailgraph query NAME`.
    """
    from trailgraph.queries_catalog import catalog

    queries = list(catalog().values())
    if fmt == "json":
        entries = [
            {"name": q.name, "purpose": q.purpose, "params": q.params, "returns": q.returns} for q in queries
        ]
        click.echo(orjson.dumps(entries, option=orjson.OPT_INDENT_2).decode())
        return
    rows: list[list[str | Text]] = [
        [
            Text(q.name, style="bold"),
            Text(q.purpose),
            Text("\n".join(f"{k}: {v}" for k, v in q.params.items()) or "-"),
        ]
        for q in queries
    ]
    fit_table(Console(), [Column("name"), Column("purpose"), Column("parameters")], rows, show_lines=True)


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`k=v` pairs; a value is JSON when it parses as JSON (`5`, `true`, `null`, `"123"`), else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        try:
            params[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[name] = raw
    return params


def typed_params(query: CannedQuery, given: dict[str, str]) -> dict[str, Any]:
    """Each value as its header types it (an account id stays a string); `null` for an optional one."""
    params: dict[str, Any] = {}
    for name in query.params:
        raw = given.get(name)
        kind = query.types.get(name, "string")
        if raw is None or (raw == "null" and name not in query.required):
            params[name] = None
        elif kind == "integer":
            try:
                params[name] = int(raw)
            except ValueError as exc:
                raise click.BadParameter(f"{name} is an integer, not {raw!r}", param_hint="--param") from exc
        elif kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise click.BadParameter(f"{name} is true or false, not {raw!r}", param_hint="--param")
            params[name] = raw.lower() == "true"
        else:
            params[name] = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    missing = sorted(p for p in query.required if params[p] is None)
    if missing:
        raise click.UsageError(
            f"{query.name} needs " + ", ".join(f"--param {m}=VALUE ({query.params[m]})" for m in missing)
        )
    return params


@main.command("query")
@click.argument("name")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A query parameter; repeat for several. VALUE is typed as the query's header says "
    "(`trailgraph queries`): ids and times stay strings, `null` leaves an optional one unset.",
)
@format_option(pictures=True)
@output_option
@backend_options
@with_store
def run_query(store: GraphStore, name: str, pairs: tuple[str, ...], fmt: str, output: str | None) -> int:
    """Run the canned query NAME (see `trailgraph queries`) with --param NAME=VALUE.

    Parameters not given are null (optional ones then do not filter). The rows are the query's
    own columns (its Neo4j-Browser-only column `p` left out), identical on both backends.

    \b
    Examples:
      trailgraph query trace --param eventId=38d0221b-61e0-47d6-9c45-7eb2dc55125b --format json
      trailgraph query chains -p crossAccountOnly=true -p minHops=2
      trailgraph query gaps -p account=203016562928 --format jsonl

    Exit status: 0 when rows came back, 1 when none, 2 unknown query or parameter, 3 store errors.
    """
    from trailgraph.queries_catalog import catalog

    known = catalog()
    if name not in known:
        raise click.BadParameter(f"no canned query {name!r}; one of: {', '.join(known)}", param_hint="NAME")
    given = dict(pair.partition("=")[::2] for pair in pairs)
    bad = [pair for pair in pairs if "=" not in pair or pair.startswith("=")]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not NAME=VALUE", param_hint="--param")
    unknown = sorted(set(given) - set(known[name].params))
    if unknown:
        raise click.BadParameter(
            f"{name} takes {', '.join(known[name].params) or 'no parameters'}, not {', '.join(unknown)}",
            param_hint="--param",
        )
    if fmt in PICTURE_FORMATS and name not in PATH_QUERIES:
        raise click.BadParameter(
            f"{name} rows have no paths to draw: use table, json or jsonl",
            param_hint="--format",
        )
    params = typed_params(known[name], given)
    if name == "find" and params.get("eventName") is not None:
        try:
            re.compile(str(params["eventName"]))
        except re.error as exc:
            raise click.BadParameter(
                f"eventName is not a regular expression: {exc}", param_hint="--param"
            ) from exc
    if (
        name in ("find", "chains")
        and params.get("limit") is not None
        and not (
            isinstance(params["limit"], int) and not isinstance(params["limit"], bool) and params["limit"] > 0
        )
    ):
        raise click.BadParameter("limit is a whole number above 0", param_hint="--param")
    subject = next((f"{k}={v}" for k, v in params.items() if v is not None), f"query {name}")
    return _answer(store, name, params, fmt, output, title=f"query {name}", subject=subject)


@main.command()
@click.argument("text", metavar="QUERY")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A query parameter ($NAME); VALUE is JSON when it parses, else a string.",
)
@click.option("--format", "fmt", type=click.Choice(DATA_FORMATS), default="table", show_default=True)
@output_option
@backend_options
@with_store
def cypher(store: GraphStore, text: str, pairs: tuple[str, ...], fmt: str, output: str | None) -> int:
    """Run ad-hoc, read-only Cypher against Neo4j.

    The session is opened in READ access mode, so the server itself refuses any write (CREATE,
    MERGE, SET, DELETE...): the graph is only ever changed by `trailgraph load`. Needs a Neo4j
    backend (--neo4j-uri or NEO4J_URI); the embedded store answers only the canned queries.

    \b
    Examples:
      trailgraph cypher "MATCH (s:Session) RETURN s.arn AS arn, s.link AS link LIMIT 10"
      trailgraph cypher "MATCH (c:APICall {eventName: \\$name}) RETURN count(c) AS n" -p name=CreateUser

    Exit status: 0 rows or not, 1 a write was refused, 2 a query error or an embedded backend,
    3 store errors.
    """
    from neo4j.exceptions import ClientError, Neo4jError

    from trailgraph.store.neo4j import Neo4jStore

    if not isinstance(store, Neo4jStore):
        err.print(
            "[red]error:[/red] `trailgraph cypher` needs Neo4j, and the backend is the "
            f"{escape(store.describe())}. "
            "Pass --neo4j-uri (or set NEO4J_URI), or use the canned queries, which work on both backends: "
            "trailgraph queries"
        )
        return EXIT_USAGE
    _quiet_driver()
    try:
        rows = store.cypher(text, parse_params(pairs))
    except ClientError as exc:
        if "AccessMode" in str(exc.code) or "read access mode" in str(exc.message).lower():
            err.print(
                "[red]refused:[/red] `trailgraph cypher` is read-only; this query writes to the graph "
                f"({escape(str(exc.message))}). The graph is changed only by `trailgraph load`."
            )
            return EXIT_NOT_FOUND
        err.print(f"[red]query error:[/red] {escape(str(exc.message))}")
        return EXIT_USAGE
    except Neo4jError as exc:
        err.print(f"[red]query error:[/red] {escape(str(exc.message))}")
        return EXIT_USAGE
    show(rows, fmt, output, query="cypher", title="cypher")
    err.print(f"[dim]{len(rows)} row(s)[/dim]")
    return 0


@main.command("map")
@window_options
@click.option(
    "--account",
    metavar="ACCOUNT_ID",
    default=None,
    help="Only roles in this account (and the hops into them).",
)
@click.option(
    "--principal",
    metavar="NAME",
    default=None,
    help="Only what this origin reached (" + PRINCIPAL_FORMS + ").",
)
@click.option("--services", is_flag=True, help="Draw AWS services as origins too (left out by default).")
@click.option("--format", "fmt", type=click.Choice(["html", "json"]), default="html", show_default=True)
@output_option
@backend_options
@with_store
def org_map(
    store: GraphStore,
    since: str | None,
    until: str | None,
    account: str | None,
    principal: str | None,
    services: bool,
    fmt: str,
    output: str | None,
) -> int:
    """A map of the organisation: who reached which roles, in which accounts, and how.

    Two columns, read from the attribution every role session keeps (the canned query `map`: every
    role, no scan): people and external identities (and, with --services, AWS services) on the left;
    on the right the accounts they reached, each a band holding its roles. One edge per origin and
    account adds up the sessions behind it, reached directly or through a chain: how many, first and
    last, console or CLI, MFA, deepest chain. Red edges cross an account boundary, dashed ones went
    through a chain of two or more role hops, and trails that stop start from a "logs missing for
    account X" node. Click an edge for the roles behind it, a chain's hops, and each session with the
    `trailgraph activity` and `trailgraph trace` commands that show it. The busiest 12 origins and 20
    roles are drawn one by one, the rest fold into "+N more" nodes that list them. One offline HTML
    file; --format json gives the model.

    \b
    Examples:
      trailgraph map -o map.html
      trailgraph map --since 7d --account 776613361644 -o prod.html
      trailgraph map --principal bob@example.com -o bob-map.html

    Exit status: 0 with a map, 1 when no session matched, 3 store errors.
    """
    from trailgraph.orgmap import fetch_rows, map_model, payload, to_html

    _quiet_driver()
    value = None
    if principal is not None:
        value = resolved(store, principal)
        if value is None:
            return EXIT_NOT_FOUND
    rows = fetch_rows(store, since, until, account)
    title = "who reached which roles" + "".join(
        f" · {k} {v}"
        for k, v in (("since", since), ("until", until), ("account", account), ("by", value))
        if v
    )
    model = map_model(rows, services=services, principal=value, title=title)
    if fmt == "json":
        _emit(orjson.dumps(payload(model), option=orjson.OPT_INDENT_2).decode(), output)
    else:
        _emit(to_html(model), output)
    reached = sum(1 for e in model.edges.values() if e.kind == "reached")
    sessions = sum(int(r["sessions"]) for r in rows)
    err.print(f"[dim]{len(model.nodes)} nodes, {reached} edges from {sessions} role session(s)[/dim]")
    if not model.edges:
        err.print(f"[red]not found:[/red] no role sessions to draw in {escape(store.describe())}")
        return EXIT_NOT_FOUND
    return 0

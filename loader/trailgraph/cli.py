"""The `trailgraph` command: a thin shell over load, link and the canned queries.

Exit codes: 0 success; 1 the answer is not there (unknown event id, input rejected); 2 usage error;
3 the store cannot be used (Neo4j unreachable, store file locked or corrupt).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape

from trailgraph import render
from trailgraph.backend import DEFAULT_STORE, BackendConfig, open_store
from trailgraph.load import BATCH_RECORDS
from trailgraph.store.base import GraphStore, StoreError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NOT_FOUND = 1
EXIT_STORE = 3
EXIT_INTERRUPTED = 130

err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("trailgraph")


def backend_options(fn: F) -> F:
    """--neo4j-uri & co. and --store, the same on every command that touches a graph."""
    options = [
        click.option(
            "--neo4j-uri",
            envvar="NEO4J_URI",
            default=None,
            metavar="URI",
            help="Use Neo4j at this Bolt URI (env NEO4J_URI). Without it, the embedded store is used.",
        ),
        click.option(
            "--neo4j-username",
            envvar="NEO4J_USERNAME",
            default="neo4j",
            show_default=True,
            help="Neo4j user (env NEO4J_USERNAME).",
        ),
        click.option(
            "--neo4j-password",
            envvar="NEO4J_PASSWORD",
            default=None,
            help="Neo4j password (env NEO4J_PASSWORD). Never printed.",
        ),
        click.option(
            "--neo4j-database",
            envvar="NEO4J_DATABASE",
            default=None,
            help="Neo4j database name (env NEO4J_DATABASE); the server default if unset.",
        ),
        click.option(
            "--store",
            envvar="TRAILGRAPH_STORE",
            default=DEFAULT_STORE,
            show_default=True,
            type=click.Path(dir_okay=False),
            help="Embedded store file (env TRAILGRAPH_STORE).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _open(kwargs: dict[str, Any], create: bool) -> GraphStore:
    config = BackendConfig(
        neo4j_uri=kwargs.pop("neo4j_uri"),
        neo4j_user=kwargs.pop("neo4j_username"),
        neo4j_password=kwargs.pop("neo4j_password"),
        neo4j_database=kwargs.pop("neo4j_database"),
        store=kwargs.pop("store"),
    )
    store = open_store(config, create=create)
    err.print(f"[dim]backend: {store.describe()}[/dim]")
    log.debug("opened %s", store.describe())
    return store


def _lost_neo4j(exc: Exception) -> bool:
    """Whether a Neo4j driver error ended the command (never true without a Neo4j store: an embedded
    command does not load the driver, 40 MB of a CLI process)."""
    driver = sys.modules.get("neo4j.exceptions")
    return driver is not None and isinstance(exc, (driver.DriverError, driver.Neo4jError))


def _store_command(fn: Callable[..., int | None], create: bool) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        try:
            store = _open(kwargs, create)
        except KeyboardInterrupt:
            err.print("interrupted (Ctrl-C) while opening the store")
            sys.exit(EXIT_INTERRUPTED)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(EXIT_STORE)
        try:
            code = fn(store, **kwargs)
        except KeyboardInterrupt:
            err.print("interrupted (Ctrl-C); nothing was changed that a re-run would not redo")
            sys.exit(EXIT_INTERRUPTED)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(EXIT_STORE)
        except Exception as exc:  # the driver's errors; its module is loaded only with a Neo4j store
            if not _lost_neo4j(exc):
                raise
            # The server went away between two statements: every write is a merge, so re-running is safe.
            err.print(
                f"[red]error:[/red] lost Neo4j ({type(exc).__name__}: {escape(str(exc))}); when it is back, "
                "re-run the same command (loads resume: every write is a merge)"
            )
            sys.exit(EXIT_STORE)
        finally:
            with contextlib.suppress(Exception):
                store.close()
        sys.exit(code or 0)

    return wrapper


def with_store(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Open the configured store, which must exist, run the command, map store errors to exit code 3."""
    return _store_command(fn, create=False)


def with_new_store(fn: Callable[..., int | None]) -> Callable[..., None]:
    """As `with_store`, but the embedded store is created if missing (load only)."""
    return _store_command(fn, create=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="trailgraph")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log what trailgraph and the Neo4j driver do (never credentials or session tokens).",
)
def main(verbose: bool) -> None:
    """Who really did this? Follow AWS CloudTrail actions back to the human or service behind them.

    \b
    Typical investigation:
      trailgraph load ./AWSLogs                 # files, directories, .json.gz, JSON Lines
      trailgraph trace 38d0221b-61e0-47d6-9c45-7eb2dc55125b
      trailgraph trace EVENT_ID --format json   # for scripts

    Every command works on the embedded store (a file, default ./trailgraph.db) unless NEO4J_URI
    (or --neo4j-uri) names a Neo4j server. The backend used is printed on stderr.
    """
    if verbose:
        _verbose_logging()


def _verbose_logging() -> None:
    """DEBUG for trailgraph, INFO for the driver; botocore stays at WARNING because its DEBUG log prints
    request headers, and those carry session tokens."""
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=err, show_path=False)])
    logging.getLogger("trailgraph").setLevel(logging.DEBUG)
    logging.getLogger("neo4j").setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    from trailgraph.timefilter import parse_when

    try:
        return datetime.fromisoformat(
            parse_when(value, end_of_day=param.name in ("until", "end"))[:-1] + "+00:00"
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def listing_filters(sources: str) -> Callable[[F], F]:
    """--since/--until (trail files by time) and --account/--region, narrowing an S3 listing."""

    def decorate(fn: F) -> F:
        for option in (
            click.option("--region", multiple=True, help=f"{sources}: only these regions (repeatable)."),
            click.option("--account", multiple=True, help=f"{sources}: only these account ids (repeatable)."),
            click.option("--until", callback=_moment, help="S3: only trail files up to this time."),
            click.option(
                "--since", callback=_moment, help="S3: only trail files from this time (ISO 8601 or 24h, 7d)."
            ),
        ):
            fn = option(fn)
        return fn

    return decorate


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--strict", is_flag=True, help="Stop at the first rejected record or file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Summary format.",
)
@listing_filters("S3 / LookupEvents")
@click.option("--profile", default=None, help="AWS profile (default: the standard credential chain).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="S3: concurrent downloads, overlapping with parsing.",
)
@click.option(
    "--processes",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Parse and extract in this many extra processes while this one writes (same graph).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1_000_000),
    default=BATCH_RECORDS,
    show_default=True,
    help="Records per transaction: smaller commits sooner and holds less memory, larger loads faster.",
)
@click.option("--lookup-events", is_flag=True, help="Read the CloudTrail LookupEvents API instead of files.")
@click.option("--start", callback=_moment, help="LookupEvents: first time (required with --lookup-events).")
@click.option("--end", callback=_moment, help="LookupEvents: last time (default: now).")
@click.option(
    "--assume-role",
    default=None,
    metavar="NAME",
    help="LookupEvents: assume role NAME in each --account (role name, not ARN).",
)
@backend_options
@with_new_store
def load(
    store: GraphStore,
    paths: tuple[str, ...],
    strict: bool,
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    account: tuple[str, ...],
    region: tuple[str, ...],
    profile: str | None,
    workers: int,
    processes: int,
    batch_size: int,
    lookup_events: bool,
    start: datetime | None,
    end: datetime | None,
    assume_role: str | None,
) -> int:
    """Load CloudTrail from files, directories, S3 or the LookupEvents API.

    \b
    Files and directories (recursively; `-` for standard input): S3 trail files ({"Records": [...]},
    gzipped or not), JSON arrays, JSON Lines, EventBridge envelopes, LookupEvents output and
    CloudTrail Lake results, detected automatically. Digest files are skipped with a note.
    \b
    S3, as AWS writes an organisation or account trail; the filters narrow the listing itself:
      trailgraph load s3://my-trail-bucket --since 7d --account 111122223333 --region us-east-1
    LookupEvents (paced to 2 requests/s per account and region), across accounts via a role:
      trailgraph load --lookup-events --start 24h --region us-east-1 --assume-role Audit --account 1111...

    Loading the same data twice changes nothing; an interrupted load can simply be run again.
    Progress goes to stderr: a live bar with an ETA on a terminal, a line every 5 s otherwise
    (TRAILGRAPH_PROGRESS_SECONDS). The summary adds up: records read = loaded + duplicates + skipped +
    rejected. Ctrl-C stops with one line saying how far it got (exit 130); re-run to finish.
    Exit status: 0 when every record was loaded (or skipped as a digest), 1 when any input was
    rejected (everything good was still loaded), 3 when the store cannot be used, 130 interrupted.
    """
    from trailgraph.load import StrictStop, load_blobs
    from trailgraph.sources.s3 import SourceError
    from trailgraph.sources.select import SourceOptions, select_sources

    options = SourceOptions(
        since=since,
        until=until,
        accounts=list(account),
        regions=list(region),
        profile=profile,
        workers=workers,
        lookup_events=lookup_events,
        start=start,
        end=end,
        assume_role=assume_role,
    )
    try:
        blobs, total = select_sources(list(paths), options)
        with render.load_progress(err, total) as progress:
            try:
                summary = load_blobs(
                    store,
                    blobs,
                    strict=strict,
                    on_progress=progress.update,
                    on_problem=progress.problem,
                    workers=processes,
                    batch_records=batch_size,
                )
            except KeyboardInterrupt:
                progress.interrupted()
                return EXIT_INTERRUPTED
    except StrictStop as stop:
        err.print(f"[red]stopped (--strict):[/red] {stop}")
        return EXIT_NOT_FOUND
    except SourceError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        click.echo(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        render.load_summary(err, summary)
    return EXIT_NOT_FOUND if summary.rejected or summary.files_rejected else 0


@main.command()
@click.argument("event_ids", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "tree", "json", "jsonl", "dot", "graphml", "html"]),
    default="tree",
    show_default=True,
    help="tree/table for people; json (one id) or jsonl (one object per line) for scripts; "
    "dot, graphml or html (one self-contained, offline page) for pictures.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file, not stdout."
)
@backend_options
@with_store
def trace(store: GraphStore, event_ids: tuple[str, ...], fmt: str, output: str | None) -> int:
    """Trace API calls (by CloudTrail eventID) back to their origin.

    For each call: the actor that made it, the origin (IAM user, root, SAML / web-identity / Identity
    Center user, AWS service; or, when logs run out, the furthest principal reached), and the chain of
    hops between them, each with how it was linked and the event ids that prove it. `complete` is false
    and `gaps` names the account whose logs would continue the trail when evidence runs out.

    Exit status: 0 when every id was found, 1 when any id is not in the store.
    """
    from trailgraph.tracing import trace_events

    answers, missing = trace_events(store, list(event_ids))
    for event_id in missing:
        err.print(f"[red]not found:[/red] no event with eventID {event_id} is loaded in {store.describe()}")
    with click.open_file(output or "-", "w", encoding="utf-8") as out:
        if fmt == "json":
            payload: Any = answers[0] if len(answers) == 1 else answers
            click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode(), file=out)
        elif fmt == "jsonl":
            for answer in answers:
                click.echo(orjson.dumps(answer).decode(), file=out)
        elif fmt in ("dot", "graphml", "html"):
            from trailgraph.pictures import render_picture

            click.echo(render_picture(answers, fmt), file=out, nl=False)
        elif fmt == "table":
            render.trace_table(Console(file=out), answers)
        else:
            render.trace_tree(Console(file=out), answers)
    return EXIT_NOT_FOUND if missing else 0


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@backend_options
@with_store
def stats(store: GraphStore, fmt: str) -> int:
    """Count nodes by label and edges by type."""
    nodes, edges = store.counts()
    if fmt == "json":
        click.echo(orjson.dumps({"nodes": nodes, "edges": edges}, option=orjson.OPT_INDENT_2).decode())
    else:
        render.counts_table(Console(), nodes, edges)
    return 0


def _hazard_switches(command: Callable[..., None]) -> Callable[..., None]:
    """One --no-HAZARD flag per hazard the simulator declares."""
    from trailgraph.simulate.config import HAZARDS

    for name, meaning in reversed(HAZARDS.items()):
        flag = "--no-" + name.replace("_", "-")
        command = click.option(
            flag, f"no_{name}", is_flag=True, help=f"No {meaning[0].lower()}{meaning[1:]}"
        )(command)
    return command


@main.command()
@click.option(
    "--write",
    "target",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the Markdown to this file instead of standard output (docs/schema.md).",
)
def schema(target: str | None) -> None:
    """Print the graph schema (labels, keys, edge types and their meaning) as Markdown."""
    from trailgraph.schema import schema_markdown

    text = schema_markdown()
    if target:
        Path(target).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory to write AWSLogs/... and truth.jsonl into.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--accounts", type=int, default=6, show_default=True, help="Accounts (at least 3).")
@click.option("--people", type=int, default=20, show_default=True)
@click.option("--events", type=int, default=10_000, show_default=True, help="Events to generate.")
@click.option("--days", type=int, default=2, show_default=True)
@click.option(
    "--missing-accounts",
    type=int,
    default=1,
    show_default=True,
    help="Workload accounts whose logs are not written (0 for none).",
)
@click.option("--no-collisions", is_flag=True, help="No same-role, same-name, same-second sessions.")
@click.option("--no-key-reuse", is_flag=True, help="Never re-issue a temporary key id.")
@click.option("--no-out-of-order", is_flag=True, help="Deliver every event in its own 5-minute file.")
@click.option("--no-duplicates", is_flag=True, help="No second delivery through account trails.")
@click.option("--no-clock-edges", is_flag=True, help="No use in the same second as the issuing call.")
@_hazard_switches
def simulate(
    out_dir: str,
    seed: int,
    accounts: int,
    people: int,
    events: int,
    days: int,
    missing_accounts: int,
    no_collisions: bool,
    no_key_reuse: bool,
    no_out_of_order: bool,
    no_duplicates: bool,
    no_clock_edges: bool,
    **hazards: bool,
) -> None:
    """Write a simulated organisation's trail, with the true origin of every event.

    The traps of real trails are on by default (SDK double AssumeRole, missing regional STS logs,
    denied AssumeRole, failed sign-ins, service events, key-less service sessions, anonymous reads);
    each --no-... switch drops one. Truth lines also name the true issuing event ("issuer").

    The trail is laid out as AWS delivers it to S3 (AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/,
    5-minute .json.gz files). The logs of --missing-accounts accounts are not written, so the trail
    holds fewer events than --events, as when a real account's trail is missing. DIR/truth.jsonl
    (skipped by `load DIR`) holds {"eventId", "account", "origin": {"type", "id"},
    "complete"} for every event, exactly as `trace` should report it. Noise is on by default.

    \b
    Example:
      trailgraph simulate --out /tmp/org --events 100000
      trailgraph load /tmp/org/AWSLogs
    """
    from trailgraph.simulate import SimConfig
    from trailgraph.simulate import simulate as run_simulation

    switches: dict[str, Any] = {name.removeprefix("no_"): not off for name, off in hazards.items()}
    try:
        config = SimConfig(
            seed=seed,
            accounts=accounts,
            people=people,
            events=events,
            days=days,
            missing_accounts=missing_accounts,
            same_second_collisions=not no_collisions,
            key_reuse=not no_key_reuse,
            out_of_order=not no_out_of_order,
            duplicates=not no_duplicates,
            clock_edges=not no_clock_edges,
            **switches,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    with render.count_progress(err, "simulate", events) as advance:
        summary = run_simulation(config, Path(out_dir), progress=advance)
    unwritten = summary.noise.get("unwritten_events", 0)
    err.print(
        f"{summary.distinct_events:,} distinct events ({summary.events:,} records with duplicates) "
        f"in {summary.files:,} files, {summary.bytes / 1e6:.1f} MB, under {Path(out_dir) / 'AWSLogs'}"
    )
    if summary.missing_accounts:
        err.print(
            f"{unwritten:,} of the {summary.generated_events:,} events generated happened in "
            f"{', '.join(summary.missing_accounts)}, whose logs are deliberately not written "
            "(--missing-accounts; 0 for none): that is why fewer events than asked are in the trail, "
            "and traces through that account stop with a gap naming it"
        )
    err.print(
        f"ground truth in {Path(out_dir) / 'truth.jsonl'} (`trailgraph load {out_dir}` skips it by name); "
        f"load the trail with: trailgraph load {Path(out_dir) / 'AWSLogs'}"
    )


@main.command()
@click.option(
    "--neo4j-uri",
    envvar="NEO4J_URI",
    default=None,
    metavar="URI",
    help="Bolt URI of the Neo4j server (env NEO4J_URI); default the local tools/neo4j/neo4j.sh server.",
)
@click.option(
    "--neo4j-username",
    envvar="NEO4J_USERNAME",
    default="neo4j",
    show_default=True,
    help="Neo4j user, filled into Browser's connect form (env NEO4J_USERNAME).",
)
@click.option(
    "--neo4j-password",
    envvar="NEO4J_PASSWORD",
    default=None,
    help="Only used to check that the server applies the style and guide (env NEO4J_PASSWORD); "
    "never put in the URL.",
)
@click.option(
    "--neo4j-database", envvar="NEO4J_DATABASE", default=None, help="Database to open (env NEO4J_DATABASE)."
)
@click.option(
    "--browser-url",
    envvar="NEO4J_BROWSER_URL",
    default=None,
    metavar="URL",
    help="Neo4j Browser's address, if not http://<Bolt host>:7474/browser/ (port: env NEO4J_HTTP_PORT).",
)
@click.option("--no-open", is_flag=True, help="Only print the URL; do not start a web browser.")
@click.option(
    "--write-guide",
    type=click.Path(dir_okay=False),
    default=None,
    help="Regenerate the Browser guide from queries/*.cypher into this file (browser/guide.html) and exit.",
)
def browser(
    neo4j_uri: str | None,
    neo4j_username: str,
    neo4j_password: str | None,
    neo4j_database: str | None,
    browser_url: str | None,
    no_open: bool,
    write_guide: str | None,
) -> None:
    """Open Neo4j Browser on the graph, with trailgraph's style and investigation guide.

    \b
    Example:
      tools/neo4j/neo4j.sh start && trailgraph browser
      trailgraph browser --no-open          # only print the URL

    Prints Browser's URL with the connection filled in (never the password) and opens it. Servers
    started by tools/neo4j/neo4j.sh or docker compose apply the trailgraph style and open its guide
    (the seed investigation and every canned query, runnable) on connect.
    """
    from trailgraph import workbench

    if write_guide:
        workbench.write_guide(Path(write_guide))
        return
    code = workbench.run(
        neo4j_uri=neo4j_uri,
        username=neo4j_username,
        password=neo4j_password,
        database=neo4j_database,
        browser_url=browser_url,
        open_window=not no_open,
        out=sys.stdout,
        err=sys.stderr,
    )
    sys.exit(code)


from trailgraph import cli_queries, cli_spark  # noqa: E402,F401

if __name__ == "__main__":
    main()

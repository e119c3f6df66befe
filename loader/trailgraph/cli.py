"""The `trailgraph` command: a thin shell over load, link and the canned queries.

Exit codes: 0 success; 1 the answer is not there (unknown event id, input rejected); 2 usage error;
3 the store cannot be used (Neo4j unreachable, store file locked or corrupt).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from trailgraph import render
from trailgraph.backend import DEFAULT_STORE, BackendConfig, open_store
from trailgraph.store.base import GraphStore, StoreError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NOT_FOUND = 1
EXIT_STORE = 3

err = Console(stderr=True, highlight=False, soft_wrap=True)


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


def _open(kwargs: dict[str, Any]) -> GraphStore:
    config = BackendConfig(
        neo4j_uri=kwargs.pop("neo4j_uri"),
        neo4j_user=kwargs.pop("neo4j_username"),
        neo4j_password=kwargs.pop("neo4j_password"),
        neo4j_database=kwargs.pop("neo4j_database"),
        store=kwargs.pop("store"),
    )
    store = open_store(config)
    err.print(f"[dim]backend: {store.describe()}[/dim]")
    return store


def with_store(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Open the configured store, run the command, map store errors to exit code 3."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        try:
            store = _open(kwargs)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            sys.exit(EXIT_STORE)
        try:
            code = fn(store, **kwargs)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            sys.exit(EXIT_STORE)
        finally:
            store.close()
        sys.exit(code or 0)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="trailgraph")
def main() -> None:
    """Who really did this? Follow AWS CloudTrail actions back to the human or service behind them.

    \b
    Typical investigation:
      trailgraph load ./AWSLogs                 # files, directories, .json.gz, JSON Lines
      trailgraph trace 38d0221b-61e0-47d6-9c45-7eb2dc55125b
      trailgraph trace EVENT_ID --format json   # for scripts

    Every command works on the embedded store (a file, default ./trailgraph.db) unless NEO4J_URI
    (or --neo4j-uri) names a Neo4j server. The backend used is printed on stderr.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Stop at the first rejected record or file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Summary format.",
)
@backend_options
@with_store
def load(store: GraphStore, paths: tuple[str, ...], strict: bool, fmt: str) -> int:
    """Load CloudTrail from files and directories (recursively), or `-` for standard input.

    Accepts S3 trail files ({"Records": [...]}, gzipped or not), JSON arrays, JSON Lines, EventBridge
    envelopes, LookupEvents output and CloudTrail Lake results. Digest files are skipped with a note.
    Loading the same data twice changes nothing; an interrupted load can simply be run again.

    Exit status: 0 when every record was loaded (or skipped as a digest), 1 when any input was
    rejected (everything good was still loaded), 3 when the store cannot be used.
    """
    from trailgraph.load import StrictStop, load_blobs
    from trailgraph.sources.files import expand, iter_file_blobs

    files = expand(list(paths))
    missing = [f for f in files if f != "-" and not Path(f).exists()]
    if missing:
        raise click.BadParameter(f"no such file or directory: {', '.join(missing)}", param_hint="PATHS")
    try:
        with render.load_progress(err, len(files)) as progress:
            summary = load_blobs(
                store,
                iter_file_blobs(files),
                strict=strict,
                on_progress=progress.update,
                on_problem=progress.problem,
            )
    except StrictStop as stop:
        err.print(f"[red]stopped (--strict):[/red] {stop}")
        return EXIT_NOT_FOUND
    if fmt == "json":
        click.echo(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        render.load_summary(err, summary)
    return EXIT_NOT_FOUND if summary.rejected else 0


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


if __name__ == "__main__":
    main()

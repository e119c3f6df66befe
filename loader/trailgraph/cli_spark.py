"""`trailgraph spark-load`: the Spark path's thin shell (trailgraph.spark does the work)."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime

import click
import orjson
from rich.markup import escape

from trailgraph import render
from trailgraph.cli import EXIT_NOT_FOUND, err, listing_filters, main
from trailgraph.records import Problem


@main.command("spark-load")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    help="Where to write the import files: a local directory, or a URL every executor can write "
    "(s3://, hdfs://, dbfs:/); copy a remote one next to Neo4j and run `python -m trailgraph.spark arrange`.",
)
@listing_filters("S3")
@click.option("--profile", default=None, help="AWS profile, on the driver and every executor.")
@click.option(
    "--master",
    default=None,
    metavar="URL",
    help="Spark master, e.g. local[2]. Default: spark-submit's --master, else local[*].",
)
@click.option(
    "--partitions",
    type=click.IntRange(0, 100_000),
    default=0,
    show_default=True,
    help="Shuffle partitions (0: Spark's default parallelism). About 1 per 2 GB of CloudTrail.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def spark_load(
    paths: tuple[str, ...],
    out: str,
    since: datetime | None,
    until: datetime | None,
    account: tuple[str, ...],
    region: tuple[str, ...],
    profile: str | None,
    master: str | None,
    partitions: int,
    fmt: str,
) -> None:
    """Load CloudTrail on Apache Spark into files for `neo4j-admin database import`.

    \b
    The same rules as `trailgraph load` (the same code, run per file and per linker group on the
    executors), and the same graph, built offline for trails one process cannot load:
      trailgraph spark-load ./AWSLogs --out ./import --master 'local[2]'
      spark-submit --master yarn $(python -m trailgraph.spark entry) spark-load \\
          s3://my-trail-bucket/AWSLogs/ --since 2025-01-01 --until 2025-12-31 --out s3://scratch/tg/
    Then, with the Neo4j server stopped, run the printed `neo4j-admin database import full` command;
    start the server and run `python -m trailgraph.bulk finish DIR` (constraints, indexes, empty
    lists). Needs `pip install 'trailgraph[spark]'` and Java 17+. See docs/spark.md.
    Exit status: 0 every record loaded, 1 some input rejected, 2 usage (or pyspark missing).
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:  # an optional extra
        raise click.UsageError(f"{exc}: install the Spark extra, pip install 'trailgraph[spark]'") from exc
    from trailgraph import spark as tgspark

    names = _sources(list(paths), since, until, list(account), list(region), profile)
    session = tgspark.session(master or (None if _submitted() else "local[*]"))
    try:
        result = tgspark.run(session, names, out, tgspark.Reader(profile=profile), partitions)
    finally:
        session.stop()
    for p in result.summary.problems:
        err.print(f"{p.severity}: {escape(p.where())}: {escape(p.reason.removeprefix(p.severity + ': '))}")
    local = tgspark.local_dir(out)
    admin = tgspark.import_args(local) if local else []
    if fmt == "json":
        click.echo(orjson.dumps({**result.as_dict(), "neo4j_admin": ["neo4j-admin", *admin]}).decode())
    else:
        render.load_summary(err, result.summary)
        err.print(f"{result.nodes:,} nodes and {result.relationships:,} relationships written under {out}")
        if local:
            err.print(
                "with the Neo4j server stopped:\n  "
                + " ".join(shlex.quote(a) for a in ["neo4j-admin", *admin])
            )
            err.print(f"then, server started: python -m trailgraph.bulk finish {shlex.quote(out)}")
        else:
            err.print(f"copy {out} next to Neo4j, then run: python -m trailgraph.spark arrange DIR")
    sys.exit(EXIT_NOT_FOUND if result.summary.rejected or result.summary.files_rejected else 0)


def _submitted() -> bool:
    """Run by spark-submit (which sets the master in the JVM's properties)."""
    import os

    return "SPARK_ENV_LOADED" in os.environ or "PYSPARK_GATEWAY_PORT" in os.environ


def _sources(
    paths: list[str],
    since: datetime | None,
    until: datetime | None,
    accounts: list[str],
    regions: list[str],
    profile: str | None,
) -> list[str | Problem]:
    from trailgraph.sources.s3 import SourceError
    from trailgraph.spark import list_sources

    try:
        return list_sources(paths, since, until, accounts, regions, profile)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from exc

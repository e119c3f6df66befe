"""How answers look to a person: rich tables, trees and progress. Scripts use --format json instead."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.tree import Tree

from trailgraph.load import LoadSummary
from trailgraph.records import Problem


PROGRESS_SECONDS = float(os.environ.get("TRAILGRAPH_PROGRESS_SECONDS") or 5.0)
"""How often a load prints a progress line when stderr is not a terminal (a log, a pipe, CI)."""


class LoadProgress:
    """A live bar with an ETA on a terminal; a plain line every few seconds anywhere else."""

    def __init__(self, console: Console, total: int, progress: Progress | None) -> None:
        self.console = console
        self.total = total
        self.progress = progress
        self.task = progress.add_task("loading", total=total or None, records=0, rate="") if progress else None
        self.last = LoadSummary()
        self.started = time.monotonic()
        self.printed = self.started

    def _rate(self, summary: LoadSummary) -> float:
        elapsed = time.monotonic() - self.started
        return summary.records / elapsed if elapsed > 0 else 0.0

    def update(self, summary: LoadSummary) -> None:
        self.last = summary
        rate = self._rate(summary)
        if self.progress is not None and self.task is not None:
            self.progress.update(
                self.task, completed=summary.sources, records=summary.records, rate=f"{rate:,.0f} records/s"
            )
            return
        now = time.monotonic()
        if now - self.printed >= PROGRESS_SECONDS:
            self.printed = now
            self.console.print(f"load: {self.done_text(summary)}, {rate:,.0f} records/s{self._eta(summary)}")

    def _eta(self, summary: LoadSummary) -> str:
        elapsed = time.monotonic() - self.started
        if not self.total or not summary.sources or elapsed <= 0:
            return f", {elapsed:,.0f} s"
        left = elapsed * (self.total - summary.sources) / summary.sources
        return f", {elapsed:,.0f} s, about {left:,.0f} s left"

    def done_text(self, summary: LoadSummary) -> str:
        files = f"{summary.sources:,}/{self.total:,}" if self.total else f"{summary.sources:,}"
        return f"{files} file(s), {summary.records:,} record(s) read, {summary.loaded:,} loaded"

    def problem(self, problem: Problem) -> None:
        colour = {"rejected": "red", "skipped": "yellow", "warning": "yellow"}[problem.severity]
        reason = problem.reason.removeprefix(f"{problem.severity}: ")
        self.console.print(f"[{colour}]{problem.severity}:[/{colour}] {escape(problem.where())}: {escape(reason)}")

    def interrupted(self) -> None:
        """Ctrl-C: how far the load got, and that running it again completes it."""
        self.console.print(
            f"interrupted after {self.done_text(self.last)}: run the same command again to finish "
            "(every write is a merge, so what is loaded stays and nothing is doubled)"
        )


@contextmanager
def load_progress(console: Console, total: int) -> Iterator[LoadProgress]:
    if not console.is_terminal:
        yield LoadProgress(console, total, None)
        return
    progress = Progress(
        TextColumn("[bold]load[/bold] files"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[records]:,} records {task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        refresh_per_second=4,
    )
    with progress:
        yield LoadProgress(console, total, progress)


@contextmanager
def count_progress(console: Console, what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar for work that reports how many units are done so far."""
    progress = Progress(
        TextColumn(f"[bold]{what}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(what, total=total)
        yield lambda done: progress.update(task, completed=done)


def load_summary(console: Console, s: LoadSummary) -> None:
    """Adds up: records read = loaded + duplicates + skipped + rejected; each file counted once."""
    files = []
    if s.files_rejected:
        files.append(f"[red]{s.files_rejected:,} rejected[/red]")
    if s.files_skipped:
        files.append(f"{s.files_skipped:,} skipped")
    console.print(
        f"{s.sources:,} file(s) read" + (f" ({', '.join(files)}, see above)" if files else "")
        + f"; {s.records:,} record(s) = [green]{s.loaded:,} loaded[/green] + {s.duplicates:,} duplicate(s) + "
        f"{s.skipped:,} skipped + " + (f"[red]{s.rejected:,} rejected[/red]" if s.rejected else "0 rejected")
    )


def _who(p: dict[str, Any]) -> str:
    name = p.get("arn") or p.get("id")
    kind = p.get("type")
    extra = ""
    if p.get("mfa") is not None:
        extra += f", MFA {'true' if p['mfa'] else 'false'}"
    if p.get("accessKeyId"):
        extra += f", key {p['accessKeyId']}"
    return f"[bold]{escape(str(name))}[/bold] ({escape(str(kind))}{escape(extra)})"


def trace_tree(console: Console, answers: list[dict[str, Any]]) -> None:
    """Reads like the manual investigation: action <- session <- role <- human, each hop with evidence."""
    for a in answers:
        e = a["event"]
        head = (
            f"[bold cyan]{escape(str(e['eventName']))}[/bold cyan] {escape(str(e['eventId']))} "
            f"in {e['account']} {e.get('region') or ''} at {e['eventTime']}"
        )
        tree = Tree(head)
        node = tree.add(f"made by {_who(a['actor'])}")
        for hop in reversed(a["chain"]):
            evidence = ", ".join(hop["evidence"]) or "-"
            node = node.add(
                f"← {_who(hop['from'])}\n  via [magenta]{escape(str(hop['via']))}[/magenta] at {hop['at']}, "
                f"linked by {hop['linkedBy']} ({hop['confidence']}); evidence {escape(evidence)}"
            )
        o = a["origin"]
        status = "[green]complete[/green]" if a["complete"] else "[red]incomplete[/red]"
        human = {True: "a person", False: "not a person", None: "unknown"}[o["human"]]
        tree.add(f"origin: [bold green]{escape(str(o['id']))}[/bold green] ({o['type']}, {human}) — {status}")
        for gap in a["gaps"]:
            tree.add(f"[red]gap[/red] account {gap['account']}: {escape(str(gap['reason']))}")
        console.print(tree)


def trace_table(console: Console, answers: list[dict[str, Any]]) -> None:
    table = Table("event", "name", "account", "actor", "origin", "type", "hops", "complete")
    for a in answers:
        table.add_row(
            a["event"]["eventId"],
            a["event"]["eventName"],
            a["event"]["account"],
            escape(str(a["actor"].get("arn") or a["actor"]["id"])),
            escape(str(a["origin"]["id"])),
            a["origin"]["type"],
            str(len(a["chain"])),
            "yes" if a["complete"] else "no",
        )
    console.print(table)


def counts_table(console: Console, nodes: dict[str, int], edges: dict[str, int]) -> None:
    table = Table("kind", "name", "count")
    for label, n in nodes.items():
        table.add_row("node", label, f"{n:,}")
    for etype, n in edges.items():
        table.add_row("edge", etype, f"{n:,}")
    console.print(table)

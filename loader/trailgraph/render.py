"""How answers look to a person: rich tables, trees and progress. Scripts use --format json instead."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from rich.text import Text

from trailgraph.load import LoadSummary
from trailgraph.records import Problem


def progress_seconds() -> float:
    """How often a load prints a progress line when stderr is not a terminal (a log, a pipe, CI):
    TRAILGRAPH_PROGRESS_SECONDS, default 5."""
    return max(0.05, float(os.environ.get("TRAILGRAPH_PROGRESS_SECONDS") or 5.0))


class LoadProgress:
    """A live bar with an ETA on a terminal; a plain line every few seconds anywhere else."""

    def __init__(self, console: Console, total: int, progress: Progress | None) -> None:
        self.console = console
        self.total = total
        self.progress = progress
        self.task = (
            progress.add_task("loading", total=total or None, records=0, rate="") if progress else None
        )
        self.last = LoadSummary()
        self.started = time.monotonic()

    def _rate(self, summary: LoadSummary) -> float:
        elapsed = time.monotonic() - self.started
        return summary.records / elapsed if elapsed > 0 else 0.0

    def update(self, summary: LoadSummary) -> None:
        self.last = summary
        if self.progress is not None and self.task is not None:
            rate = f"{self._rate(summary):,.0f}/s"
            self.progress.update(self.task, completed=summary.sources, records=summary.records, rate=rate)

    def tick_until(self, stop: threading.Event, seconds: float) -> None:
        """Off a terminal: a line every `seconds`, on a clock of its own, so a long batch or a slow
        source still shows the load is alive."""
        while not stop.wait(seconds):
            summary = self.last
            self.console.print(
                f"load: {self.done_text(summary)}, {self._rate(summary):,.0f} records/s{self._eta(summary)}",
                highlight=False,
            )

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
        self.console.print(
            f"[{colour}]{problem.severity}:[/{colour}] {escape(problem.where())}: {escape(reason)}"
        )

    def interrupted(self) -> None:
        """Ctrl-C: how far the load got, and that running it again completes it."""
        self.console.print(
            f"interrupted after {self.done_text(self.last)}: run the same command again to finish "
            "(every write is a merge, so what is loaded stays and nothing is doubled)"
        )


@contextmanager
def load_progress(console: Console, total: int) -> Iterator[LoadProgress]:
    if not console.is_terminal:
        lines = LoadProgress(console, total, None)
        stop = threading.Event()
        ticker = threading.Thread(
            target=lines.tick_until, args=(stop, progress_seconds()), name="trailgraph-progress", daemon=True
        )
        ticker.start()
        try:
            yield lines
        finally:
            stop.set()
            ticker.join()
        return
    progress = Progress(
        TextColumn("[bold]load[/bold]"),
        BarColumn(bar_width=12),
        MofNCompleteColumn(),
        TextColumn("files, {task.fields[records]:,} records, {task.fields[rate]}"),
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
        f"{s.sources:,} file(s) read"
        + (f" ({', '.join(files)}, see above)" if files else "")
        + f"; {s.records:,} record(s) = [green]{s.loaded:,} loaded[/green] + {s.duplicates:,} duplicate(s) + "
        f"{s.skipped:,} skipped + " + (f"[red]{s.rejected:,} rejected[/red]" if s.rejected else "0 rejected")
    )


_NAMED_BY_ID = ("IdentityCenterUser", "SAMLUser", "WebIdentityUser")
"""External identities whose id (an Identity Center user id, a SAML or OIDC subject) a person does not
recognise: their name comes first, the id after it."""


def _who(p: dict[str, Any]) -> str:
    """A principal on one line: its ARN or id, never cut, then its kind and key facts."""
    ident = str(p.get("arn") or p.get("id"))
    kind = str(p.get("type"))
    extra = ""
    name = p.get("name")
    if kind in _NAMED_BY_ID and name and name != ident:
        ident, extra = str(name), f", id {ident}"
    if p.get("mfa") is not None:
        extra += f", MFA {'true' if p['mfa'] else 'false'}"
    if p.get("accessKeyId"):
        extra += f", key {p['accessKeyId']}"
    return f"[bold]{escape(ident)}[/bold] ({escape(kind)}{escape(extra)})"


def _from_where(ip: Any, agent: Any) -> str:
    if not ip and not agent:
        return ""
    return f"from {escape(str(ip or '-'))}, user agent {escape(str(agent or '-'))}"


def _branch(console: Console, prefix: str, last: bool, label: list[str]) -> str:
    """Print one tree entry (several lines) under `prefix`; return the prefix for its children."""
    console.print(prefix + ("└── " if last else "├── ") + label[0], soft_wrap=True, highlight=False)
    inner = prefix + ("    " if last else "│   ")
    for line in label[1:]:
        console.print(inner + line, soft_wrap=True, highlight=False)
    return inner


def trace_tree(console: Console, answers: list[dict[str, Any]]) -> None:
    """Reads like the manual investigation: action <- session <- role <- human, each hop with evidence.

    Drawn line by line and never broken or cropped by us (soft wrap): an ARN or event id wider than
    the terminal is wrapped by the terminal itself, and copies whole; piped, every line is whole."""
    for a in answers:
        e = a["event"]
        console.print(
            f"[bold cyan]{escape(str(e['eventName']))}[/bold cyan] {escape(str(e['eventId']))}",
            soft_wrap=True,
            highlight=False,
        )
        where_when = f"in {e['account']} {e.get('region') or ''} at {e['eventTime']}"
        console.print(escape(where_when), soft_wrap=True, highlight=False)
        where = _from_where(e.get("sourceIPAddress"), e.get("userAgent"))
        if where:
            console.print(where, soft_wrap=True, highlight=False)
        prefix = _branch(console, "", False, [f"made by {_who(a['actor'])}"])
        for hop in reversed(a["chain"]):
            lines = [
                f"← {_who(hop['from'])}",
                f"  via [magenta]{escape(str(hop['via']))}[/magenta] at {escape(str(hop['at']))}",
                f"  linked by {escape(str(hop['linkedBy']))} ({escape(str(hop['confidence']))})",
            ]
            hop_where = _from_where(hop.get("sourceIPAddress"), hop.get("userAgent"))
            if hop_where:
                lines.append(f"  {hop_where}")
            lines += [f"  evidence {escape(ev)}" for ev in hop["evidence"]] or ["  evidence -"]
            prefix = _branch(console, prefix, True, lines)
        o = a["origin"]
        status = "[green]complete[/green]" if a["complete"] else "[red]incomplete[/red]"
        human = {True: "a person", False: "not a person", None: "unknown"}[o["human"]]
        gaps = a["gaps"]
        _branch(console, "", not gaps, [f"origin: {_who(o)} — {human}, {status}"])
        for n, gap in enumerate(gaps):
            reason = f"[red]gap[/red] account {escape(str(gap['account']))}: {escape(str(gap['reason']))}"
            _branch(console, "", n == len(gaps) - 1, [reason])


@dataclass(frozen=True)
class Column:
    """A table column. `drop` > 0: may be left out on a narrow terminal, highest first."""

    header: str
    drop: int = 0


_OVERHEAD_PER_COLUMN = 3  # rich's padding and border
_WORD = re.compile(r"\S+")


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain


def _widths(cells: list[str]) -> tuple[int, int]:
    """(narrowest without splitting a word, widest line) of a column's cells."""
    words = [len(w) for c in cells for w in _WORD.findall(c)] or [1]
    lines = [len(line) for c in cells for line in c.splitlines()] or [1]
    return max(words), max(lines)


def fit_table(
    console: Console,
    columns: list[Column],
    rows: list[list[str | Text]],
    *,
    title: str | None = None,
    show_lines: bool = False,
) -> None:
    """A table that never cuts or splits an id, ARN, event id or time.

    Piped: every column at full width, whatever the terminal. On a terminal: text wraps only between
    words; when even that is too wide, low-value columns are left out (and named), and when it still
    is, each row is printed as `column  value` lines instead, never a split value."""
    plain = [[_plain(c) for c in row] for row in rows]
    measured = [_widths([col.header, *(row[i] for row in plain)]) for i, col in enumerate(columns)]
    if not console.is_terminal:
        width = sum(w for _, w in measured) + _OVERHEAD_PER_COLUMN * len(columns) + 1
        out = Console(file=console.file, width=max(width, 20), no_color=console.no_color, highlight=False)
        full = [w for _, w in measured]
        out.print(_table(columns, rows, range(len(columns)), title, show_lines, full))
        return
    keep = list(range(len(columns)))

    def needed() -> int:
        return sum(measured[i][0] for i in keep) + _OVERHEAD_PER_COLUMN * len(keep) + 1

    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed() <= console.width:
            break
        keep.remove(i)
    if needed() <= console.width:
        console.print(_table(columns, rows, keep, title, show_lines, [m for m, _ in measured]))
        left_out = [columns[i].header for i in range(len(columns)) if i not in keep]
        if left_out:
            console.print(
                f"[dim]left out at {console.width} columns: {', '.join(left_out)} "
                "(a wider terminal, a pipe or --format json shows them)[/dim]",
                highlight=False,
            )
        return
    if title:
        console.print(f"[bold]{escape(title)}[/bold]")
    label = max(len(c.header) for c in columns)
    for n, row in enumerate(rows):
        if n:
            console.print()
        for col, cell in zip(columns, row, strict=True):
            text = cell if isinstance(cell, Text) else Text.from_markup(cell)
            for k, line in enumerate(text.split("\n") or [Text("")]):
                head = (f"{col.header if k == 0 else '':<{label}}  ", "bold")
                console.print(Text.assemble(head, line), soft_wrap=True, highlight=False)


def _table(
    columns: list[Column],
    rows: list[list[str | Text]],
    keep: Iterable[int],
    title: str | None,
    lines: bool,
    min_widths: list[int],
) -> Table:
    """Each column at least as wide as its longest word, so rich wraps between words only."""
    keep = list(keep)
    table = Table(title=title, title_justify="left", show_lines=lines)
    for i in keep:
        table.add_column(columns[i].header, overflow="fold", min_width=min_widths[i])
    for row in rows:
        table.add_row(*[row[i] for i in keep])
    return table


TRACE_COLUMNS = [
    Column("event"),
    Column("name"),
    Column("account"),
    Column("actor", drop=2),
    Column("origin"),
    Column("type", drop=1),
    Column("hops", drop=3),
    Column("complete"),
]


def trace_table(console: Console, answers: list[dict[str, Any]]) -> None:
    rows: list[list[str | Text]] = [
        [
            Text(str(a["event"]["eventId"])),
            Text(str(a["event"]["eventName"])),
            Text(str(a["event"]["account"])),
            Text(str(a["actor"].get("arn") or a["actor"]["id"])),
            Text(str(a["origin"]["id"])),
            Text(str(a["origin"]["type"])),
            Text(str(len(a["chain"]))),
            Text("yes" if a["complete"] else "no"),
        ]
        for a in answers
    ]
    fit_table(console, TRACE_COLUMNS, rows)


def counts_table(console: Console, nodes: dict[str, int], edges: dict[str, int]) -> None:
    rows: list[list[str | Text]] = [["node", label, f"{n:,}"] for label, n in nodes.items()]
    rows += [["edge", etype, f"{n:,}"] for etype, n in edges.items()]
    fit_table(console, [Column("kind"), Column("name"), Column("count")], rows)

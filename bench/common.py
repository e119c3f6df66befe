"""Shared pieces of the benchmarks: simulated organisations, a private Neo4j server, child-process runs.

The private server runs from the same jars as tools/neo4j/neo4j.sh (`.neo4j/lib`, fetched by
`neo4j.sh fetch`) but with its own home, ports and memory, so a benchmark never wipes the test server's
data and the tests never disturb a measurement. Community Edition has one user database, so a separate
server is the only way to get a separate database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / ".neo4j" / "lib"
NEO4J_SH = REPO / "tools" / "neo4j" / "neo4j.sh"
PASSWORD = "trailgraph-bench"

logging.getLogger("neo4j").setLevel(logging.ERROR)  # no retry warnings while a server starts


def command_line() -> str:
    """The exact command this script was run with (every report starts with it)."""
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (1/5/15 min), "
        f"Python {sys.version.split()[0]}"
    )


def org(root: Path, events: int, seed: int = 1) -> Path:
    """A simulated organisation of about `events` events under root/org-<events>-<seed> (reused)."""
    out = root / f"org-{events}-{seed}"
    if not (out / "truth.jsonl").exists():
        from trailgraph.simulate import SimConfig, simulate

        shutil.rmtree(out, ignore_errors=True)
        simulate(SimConfig(seed=seed, events=events), out)  # what `trailgraph simulate --events N` writes
    return out


def trail(org_dir: Path) -> Path:
    return org_dir / "AWSLogs"


@dataclass
class ChildResult:
    seconds: float
    peak_rss_mb: float
    output: dict[str, Any]


def run_child(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 7200) -> ChildResult:
    """Run `python -m bench.<...>`-style child; its last stdout line is JSON. Peak RSS is the child's
    (ru_maxrss of the waited-for process tree: the child and the workers it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    output = orjson.loads(lines[-1]) if lines else {}
    peak = float(output.get("peak_rss_mb", 0) or 0) or (max(after, before) / 1024)
    return ChildResult(seconds, peak, output)


def bulk_import(server: Neo4jServer, db: Path) -> dict[str, Any]:
    """The embedded store `db` into `server` by the bulk path (bench/load.py's `bulk` child: export,
    neo4j-admin import with the server stopped, restart, finish); returns the child's timings."""
    out = run_child(
        [
            str(REPO / "bench" / "load.py"),
            "--child",
            "bulk",
            str(db),
            str(server.home),
            str(server.bolt_port),
            str(server.http_port),
            server.heap,
            server.pagecache,
        ],
        env={"BENCH_NEO4J_PID": str(server.pid), "BENCH_NEO4J_PASSWORD": server.credentials[2]},
    ).output
    server.pid = int(out["pid"])  # the child restarted the server
    return out


def peak_rss_mb() -> float:
    """This process's peak RSS, plus the largest of the children it has waited for (workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + children) / 1024, 1)


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """`median (min-max)` of repeated measurements."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


# ---- a private Neo4j server ----------------------------------------------------------------------------


@dataclass
class Neo4jServer:
    home: Path
    bolt_port: int
    http_port: int
    heap: str
    pagecache: str
    pid: int | None = None

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def credentials(self) -> tuple[str, str, str]:
        return self.uri, "neo4j", PASSWORD

    def _env(self) -> dict[str, str]:
        return {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}

    def write_conf(self) -> None:
        conf = self.home / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        dirs = {d: self.home / d for d in ("data", "logs", "run", "import", "plugins")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        (conf / "neo4j.conf").write_text(
            "\n".join(
                [
                    f"server.directories.data={dirs['data']}",
                    f"server.directories.logs={dirs['logs']}",
                    f"server.directories.run={dirs['run']}",
                    f"server.directories.lib={LIB}",
                    f"server.directories.plugins={dirs['plugins']}",
                    f"server.directories.import={dirs['import']}",
                    "server.default_listen_address=127.0.0.1",
                    "server.default_advertised_address=127.0.0.1",
                    f"server.bolt.listen_address=127.0.0.1:{self.bolt_port}",
                    f"server.bolt.advertised_address=127.0.0.1:{self.bolt_port}",
                    f"server.http.listen_address=127.0.0.1:{self.http_port}",
                    f"server.http.advertised_address=127.0.0.1:{self.http_port}",
                    "server.https.enabled=false",
                    f"server.memory.heap.initial_size={self.heap}",
                    f"server.memory.heap.max_size={self.heap}",
                    f"server.memory.pagecache.size={self.pagecache}",
                    "dbms.security.auth_enabled=true",
                    "dbms.usage_report.enabled=false",
                    "db.tx_log.rotation.retention_policy=1 days",
                    "internal.dbms.bolt.netty_server_shutdown_quiet_period=0",
                    "",
                ]
            )
        )

    def admin(self, *args: str, heap: str = "1g") -> subprocess.CompletedProcess[str]:
        """`neo4j-admin ARGS` (org.neo4j.cli.AdminTool from the same jars), against this home."""
        return subprocess.run(
            ["java", f"-Xmx{heap}", "-cp", f"{LIB}/*", "org.neo4j.cli.AdminTool", *args],
            env=self._env(),
            cwd=self.home,  # neo4j-admin import writes import.report into the working directory
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self) -> None:
        if not (LIB / f"neo4j-{_neo4j_version()}.jar").exists():
            subprocess.run(["bash", str(NEO4J_SH), "fetch"], check=True)
        self.write_conf()
        if not (self.home / "data" / "databases" / "system").exists():
            done = self.admin("dbms", "set-initial-password", PASSWORD, heap="256m")
            if done.returncode != 0:
                raise RuntimeError(f"set-initial-password failed: {done.stdout}{done.stderr}")
        log = (self.home / "logs" / "console.log").open("ab")
        proc = subprocess.Popen(
            [
                "java",
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:+UnlockExperimentalVMOptions",
                "-XX:+TrustFinalNonStaticFields",
                "-XX:+DisableExplicitGC",
                "-Djdk.nio.maxCachedBufferSize=1024",
                "-Dio.netty.tryReflectionSetAccessible=true",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "--add-opens=java.base/java.io=ALL-UNNAMED",
                "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--enable-native-access=ALL-UNNAMED",
                "-Dfile.encoding=UTF-8",
                "-XX:+ExitOnOutOfMemoryError",
                "-cp",
                f"{LIB}/*",
                "org.neo4j.server.CommunityEntryPoint",
                f"--home-dir={self.home}",
                f"--config-dir={self.home / 'conf'}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.pid = proc.pid
        self._wait_ready(proc)

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import ServiceUnavailable

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Neo4j exited during start-up; see {self.home / 'logs'}")
            try:
                with GraphDatabase.driver(self.uri, auth=("neo4j", PASSWORD)) as driver:
                    driver.execute_query("RETURN 1")
                    return
            except (ServiceUnavailable, OSError):
                time.sleep(0.5)
            except Exception:  # still starting: auth or database not available yet
                time.sleep(0.5)
        raise RuntimeError("Neo4j did not answer within 240 s")

    def stop(self) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                os.waitpid(self.pid, os.WNOHANG)
                os.kill(self.pid, 0)
            except (ChildProcessError, ProcessLookupError):
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def rss_mb(self) -> float:
        if self.pid is None:
            return 0.0
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def wipe(self) -> None:
        """Stop and delete the databases (the next start creates an empty one)."""
        self.stop()
        shutil.rmtree(self.home / "data", ignore_errors=True)


def _neo4j_version() -> str:
    pom = (REPO / "tools" / "neo4j" / "pom.xml").read_text()
    return pom.split("<neo4j.version>")[1].split("</neo4j.version>")[0]


@contextlib.contextmanager
def private_neo4j(
    home: Path,
    bolt_port: int = 7697,
    http_port: int = 7484,
    heap: str = "2g",
    pagecache: str = "2g",
    keep_data: bool = False,
) -> Iterator[Neo4jServer]:
    """A Neo4j server of our own for the length of the block: fresh (its data deleted first) unless
    `keep_data`, when it starts on what a previous block left."""
    server = Neo4jServer(home, bolt_port, http_port, heap, pagecache)
    if not keep_data:
        shutil.rmtree(home / "data", ignore_errors=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()

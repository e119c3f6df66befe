"""Every shell block of the README runs as written, in a copy of the repository with nothing beside it.

A block that cannot run here says why in an HTML comment right above it (`<!-- not run: REASON -->`),
and the reason must be one a reader accepts: it needs Docker, AWS, the default ports, a large trail, or
it is the test suite or a benchmark itself. Everything else runs, in order, in one copy, each block in a
fresh `bash -e` whose working directory is the copy, so the first block's venv serves the later ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"(?:<!--\s*not run:\s*(?P<why>[^>]*?)\s*-->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)
ACCEPTED_REASONS = ("Docker", "AWS", "default ports", "large trail", "test suite itself", "benchmark")


def blocks() -> list[tuple[str, str | None]]:
    """(body, reason not run) of every sh block of the README, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(m["body"], m["why"]) for m in BLOCK.finditer(text) if m["lang"] == "sh"]


def test_every_block_that_is_not_run_says_an_accepted_reason() -> None:
    found = blocks()
    assert len(found) >= 4
    for body, why in found:
        if why is not None:
            assert any(reason in why for reason in ACCEPTED_REASONS), f"not run for {why!r}:\n{body}"
        else:
            assert "docker" not in body and "s3://" not in body and "--lookup-events" not in body, body


def _bare_copy(into: Path) -> Path:
    """The repository's files as a clone holds them (tracked and new, not ignored), nothing beside."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    clone = into / "trailgraph"
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = clone / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return clone


@pytest.mark.timeout(1800)
def test_the_readme_commands_run_as_written_in_a_bare_clone(tmp_path: Path) -> None:
    clone = _bare_copy(tmp_path)
    assert not (clone.parent / "shared").exists() and not (clone / ".venv").exists()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEO4J_", "TRAILGRAPH_", "VIRTUAL_ENV", "PYTHON")) and k != "COLUMNS"
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "/.venv/" not in p)
    runnable = [body for body, why in blocks() if why is None]
    assert runnable, "the README has no runnable block"
    outputs = []
    for body in runnable:
        done = subprocess.run(
            ["bash", "-e", "-c", body],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert done.returncode == 0, (
            f"README block failed ({done.returncode}):\n{body}\n{done.stdout}{done.stderr}"
        )
        outputs.append(done.stdout)
    first = outputs[0]
    assert "origin: arn:aws:iam::203016562928:user/bob@example.com (IAMUser" in first
    assert "a person, complete" in first

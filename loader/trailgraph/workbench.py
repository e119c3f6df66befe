"""Neo4j Browser as the investigation workbench: its style sheet, its guide, and the address to open.

Both files live in `browser/` at the repository root and are served beside Neo4j Browser, so the
server's `browser.post_connect_cmd` can apply the style and open the guide on every connect:
`tools/neo4j/neo4j.sh` packs them into the Browser it serves (`/browser/trailgraph/...`, same origin),
and `docker-compose.yml` serves them from a small static service. The guide is generated here from the
canned queries' headers (`trailgraph browser --write-guide browser/guide.html`; a test fails when the
committed copy is stale), so the queries an investigator clicks are exactly the `.cypher` files.
"""

from __future__ import annotations

import html
import os
import re
import sys
import webbrowser
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from trailgraph.queries_catalog import CannedQuery, catalog

BROWSER_DIR = Path(__file__).resolve().parents[2] / "browser"
"""The repository's `browser/` folder (absent from an installed wheel: the guide is generated anyway)."""

STYLE_FILE = "trailgraph.grass"
GUIDE_FILE = "guide.html"
LOCAL_ASSETS_PATH = "/browser/trailgraph"
"""Where the neo4j.sh server serves `browser/`: inside Browser's own folder, so the same origin."""

DEFAULT_HTTP_PORT = 7474
SEED_EVENT_ID = "38d0221b-61e0-47d6-9c45-7eb2dc55125b"
"""The seed investigation's CreateUser, the guide's worked example."""

SEED_CHAIN = (
    "bob@example.com (IAM user, account 203016562928) opened a console session",
    "that session called AssumeRole (console SwitchRole) in his own account",
    "which issued the role session assume-admin-role-example/bob@example.com in 776613361644",
    "which called CreateUser",
)


# --------------------------------------------------------------------------- style


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """Read a GraSS sheet the way Neo4j Browser 5 does (grassUtils.parseGrassCSS), quirks included.

    Kept faithful on purpose: its limits are the rules for `trailgraph.grass` (no comments, no `:` or
    `;` inside a value, quotes only around captions), and tests read colours through it.
    """
    rules: dict[str, str] = {}
    keyword, props = "", ""
    in_string = in_props = in_binding = False
    for c in text:
        keep = False
        if c == "{":
            if in_string:
                keep = True
            elif in_props:
                in_binding = True
            else:
                in_props = True
        elif c == "}":
            if in_string:
                keep = True
            elif in_binding:
                in_binding = False
            else:
                in_props = False
                rules[keyword] = props
                keyword, props = "", ""
        elif c in "'\"":
            in_string = not in_string
        else:
            keep = True
        if not keep:
            continue
        if in_props:
            props += c
        elif not c.isspace():
            keyword += c
    parsed: dict[str, dict[str, str]] = {}
    for selector, body in rules.items():
        parsed[selector] = {}
        for prop in body.split(";"):
            parts = prop.split(":")
            if len(parts) == 2:
                parsed[selector][parts[0].strip()] = parts[1].strip()
    return parsed


def read_style(path: Path | None = None) -> str:
    return (path or BROWSER_DIR / STYLE_FILE).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- guide

_EXAMPLE_PARAM = re.compile(r"^:param\s+(\w+)\s*=>\s*(.+?)\s*;?$")

_LEGEND = (
    ("IAMUser", "IAM user: a person (or a script with its key)"),
    ("Root", "an account's root user"),
    ("ExternalIdentity", "SAML, web-identity or Identity Center user"),
    ("Role", "IAM role"),
    ("Session", "session: temporary credentials in use"),
    ("AccessKey", "access key"),
    ("APICall", "API call: event name and time"),
    ("Service", "AWS service acting on its own"),
    ("AccountPrincipal", "caller known only by account (the trail stops here)"),
)


def example_params(query: CannedQuery) -> list[tuple[str, str]]:
    """The `:param name => value` lines of the query's `// example:` header, in order.

    The example block is the author's tested choice (with nulls for optional bounds), unlike the
    per-parameter `(example: ...)` hints, which show every option filled in.
    """
    found: list[tuple[str, str]] = []
    in_example = False
    for line in query.text.splitlines():
        if not line.startswith("//"):
            break
        body = line[2:].strip()
        if body.startswith("example:"):
            in_example = True
            body = body[len("example:") :].strip()
        elif re.match(r"^\w[\w ]*?:", body) and not body.startswith(":"):
            in_example = False
        if in_example:
            m = _EXAMPLE_PARAM.match(body)
            if m:
                found.append((m.group(1), m.group(2)))
    return found


def params_command(pairs: list[tuple[str, str]]) -> str:
    """One Browser command that sets every example parameter, values evaluated by the server.

    `:param name => value` sets one; several take Browser's destructuring form
    `:param [{a, b}] => { RETURN x AS a, y AS b }`. Not `:params {...}`: Browser reads that map as
    JSON, so 1 would arrive as the float 1.0; nor `;`-separated lines: the guide's run button runs
    one command.
    """
    if len(pairs) == 1:
        name, value = pairs[0]
        return f":param {name} => {value}"
    names = ", ".join(name for name, _ in pairs)
    values = ",\n         ".join(f"{value} AS {name}" for name, value in pairs)
    return f":param [{{{names}}}] => {{\n  RETURN {values}\n}}"


def query_body(query: CannedQuery) -> str:
    """The Cypher without its header comment: the guide shows the header as prose instead."""
    lines = query.text.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.startswith("//")), len(lines))
    return "\n".join(lines[start:]).strip()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _runnable(code: str) -> str:
    # Browser turns pre.runnable into a play button (runs it) and a click target (copies to the editor).
    return f'<pre class="pre-scrollable code runnable">{html.escape(code, quote=False)}</pre>'


def _legend(grass: Mapping[str, Mapping[str, str]]) -> str:
    rows = []
    for label, meaning in _LEGEND:
        colour = grass.get(f"node.{label}", {}).get("color", "#A5ABB6")
        rows.append(
            f'<tr><td><span style="display:inline-block;width:14px;height:14px;border-radius:7px;'
            f'background:{_e(colour)}"></span></td><td><code>{_e(label)}</code></td><td>{_e(meaning)}</td></tr>'
        )
    return '<table class="table-condensed">' + "".join(rows) + "</table>"


def _query_slide(query: CannedQuery) -> str:
    pairs = example_params(query)
    params = "".join(f"<li><code>${_e(name)}</code>: {_e(text)}</li>" for name, text in query.params.items())
    return (
        "<slide>\n"
        f"<h3>{_e(query.name)}</h3>\n"
        f"<p>{_e(query.purpose)}</p>\n"
        + (f"<p><strong>Parameters</strong></p><ul>{params}</ul>\n" if params else "")
        + "<p>1. Set the example parameters (edit them for your own case):</p>\n"
        + _runnable(params_command(pairs))
        + f"\n<p>2. Run <code>queries/{_e(query.name)}.cypher</code> (column <code>p</code> is drawn):</p>\n"
        + _runnable(query_body(query))
        + f"\n<p><strong>Returns</strong> {_e(query.returns)}</p>\n"
        + "</slide>"
    )


def render_guide(queries: Mapping[str, CannedQuery] | None = None, style_text: str | None = None) -> str:
    """The Browser guide (`:guide <url>`): one HTML page of `<slide>`s, the seed walk-through first."""
    queries = catalog() if queries is None else queries
    grass = parse_grass(read_style() if style_text is None else style_text)
    trace = queries["trace"]
    seed_params = params_command(example_params(trace))
    intro = (
        "<slide>\n"
        "<h3>Who really did this?</h3>\n"
        "<p>An API call in CloudTrail names a role session, not a person. trailgraph links every "
        "session to the event that issued its credentials, so any call can be walked back to the "
        "human or service behind it. It never guesses: where the logs run out, the trail stops.</p>\n"
        "<p>The trailgraph style colours the chain from the human (warm colours) through roles and "
        "sessions to the calls; each trace edge is captioned with how it was linked and how sure the "
        "link is (<code>via (confidence)</code>).</p>\n"
        f"{_legend(grass)}\n"
        "<p>Style not applied (grey nodes)? Run <code>:style</code> with the trailgraph style URL this "
        "server's <code>browser.post_connect_cmd</code> names, or paste <code>browser/trailgraph.grass"
        "</code> after <code>:style</code>.</p>\n"
        "</slide>"
    )
    chain = "".join(f"<li>{_e(step)}</li>" for step in SEED_CHAIN)
    seed = (
        "<slide>\n"
        "<h3>The seed investigation: who created a user?</h3>\n"
        "<p>Load the seed into this database from a shell (with <code>NEO4J_URI</code>, "
        "<code>NEO4J_PASSWORD</code> set, or through <code>docker compose run</code>):</p>\n"
        "<pre>trailgraph load examples/seed</pre>\n"
        f"<p>1. Name the call: the <code>CreateUser</code> with eventID <code>{SEED_EVENT_ID}</code>.</p>\n"
        + _runnable(seed_params)
        + "\n<p>2. Trace it back to its origin:</p>\n"
        + _runnable(query_body(trace))
        + "\n<p>Read the picture from the human (red) to the action (green), hop by hop:</p>\n"
        f"<ol>{chain}</ol>\n"
        "<p>The same answer on the command line: <code>trailgraph trace "
        f"{SEED_EVENT_ID}</code> (add <code>--format json</code> for the evidence event ids).</p>\n"
        "</slide>"
    )
    index = "".join(f"<li><code>{_e(q.name)}</code>: {_e(q.purpose)}</li>" for q in queries.values())
    overview = (
        "<slide>\n"
        "<h3>The canned queries</h3>\n"
        "<p>Each of the next slides is one file of <code>queries/</code>, with its example parameters. "
        "Every query returns its graph as column <code>p</code>; switch to the Table view for the "
        "other columns.</p>\n"
        f"<ul>{index}</ul>\n"
        "</slide>"
    )
    slides = [intro, seed, overview, *(_query_slide(q) for q in queries.values())]
    return (
        "<!-- Generated by `trailgraph browser --write-guide browser/guide.html` from queries/*.cypher "
        "and browser/trailgraph.grass; do not edit by hand. -->\n"
        "<title>trailgraph: who really did this?</title>\n"
        '<article class="guide">\n'
        '<carousel class="deck container-fluid">\n' + "\n".join(slides) + "\n</carousel>\n</article>\n"
    )


def write_guide(path: Path) -> None:
    path.write_text(render_guide(), encoding="utf-8")


# --------------------------------------------------------------------------- opening Browser


@dataclass(frozen=True)
class Workbench:
    """Where Browser is and what it connects to."""

    browser_url: str
    bolt_uri: str
    http_base: str


def http_base_for(bolt_uri: str, http_port: int | None = None) -> str:
    """Neo4j's HTTP address for a Bolt URI: same host, port 7474 (NEO4J_HTTP_PORT), https for +s."""
    parts = urlsplit(bolt_uri)
    secure = parts.scheme.endswith("+s") or parts.scheme.endswith("+ssc")
    port = http_port or int(os.environ.get("NEO4J_HTTP_PORT") or DEFAULT_HTTP_PORT)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if secure else 'http'}://{host}:{port}"


def asset_urls(assets_base: str) -> tuple[str, str]:
    """(style URL, guide URL) under the folder URL that serves `browser/`."""
    base = assets_base.rstrip("/")
    return f"{base}/{STYLE_FILE}", f"{base}/{GUIDE_FILE}"


STYLE_MARKER = "`trailgraph-style{}"
"""Opens the inline style of the post-connect command (see `post_connect_cmd`)."""


def one_line(style_text: str) -> str:
    """The style sheet on one line (a config value), whitespace runs made one space, as neo4j.sh does."""
    return re.sub(r"\s+", " ", style_text).strip()


def post_connect_cmd(assets_base: str, style_text: str | None = None) -> str:
    """The `browser.post_connect_cmd` both setups configure: apply the style, clear, open the guide.

    Browser shows a frame with the whole style sheet for every `:style`. Given a URL it fetches the
    sheet and adds that frame later, so nothing can remove it; given the sheet itself it applies it and
    adds the frame at once, and the `:clear` that follows removes it, before the guide opens in the
    sidebar. Browser splits the command at `;` except inside backticks, so the sheet goes in backticks;
    its parser then reads the opening backtick as part of the first selector, hence the empty
    `trailgraph-style` rule first (the closing one is read as a selector without a rule, and ignored).
    """
    _, guide = asset_urls(assets_base)
    sheet = one_line(read_style() if style_text is None else style_text)
    return f"style {STYLE_MARKER} {sheet}`; clear; guide {guide}"


def workbench_for(
    bolt_uri: str, *, username: str = "neo4j", database: str | None = None, browser_url: str | None = None
) -> Workbench:
    """Browser's address with the connection filled in (`dbms=` URL, user name; never the password)."""
    if browser_url:
        parts = urlsplit(browser_url)
        base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        page = urlunsplit((parts.scheme, parts.netloc, parts.path or "/browser/", "", ""))
    else:
        base = http_base_for(bolt_uri)
        page = f"{base}/browser/"
    target = urlsplit(bolt_uri)
    netloc = target.netloc.rsplit("@", 1)[-1]
    user = f"{quote(username, safe='')}@" if username else ""
    dbms = urlunsplit((target.scheme, user + netloc, "", "", ""))
    query = {"dbms": dbms, **({"db": database} if database else {})}
    return Workbench(f"{page}?{urlencode(query)}", bolt_uri, base)


def server_post_connect_cmd(bolt_uri: str, username: str, password: str) -> str | None:
    """What the server tells Browser to run on connect, or None when it cannot be asked."""
    import logging

    from neo4j import GraphDatabase
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    logging.getLogger("neo4j").setLevel(logging.ERROR)
    try:
        with GraphDatabase.driver(bolt_uri, auth=(username, password), connection_timeout=5) as driver:
            records, _, _ = driver.execute_query("CALL dbms.clientConfig()", database_="system")
    except (Neo4jError, ServiceUnavailable, OSError, ValueError):
        return None
    for record in records:
        if record["name"] == "browser.post_connect_cmd":
            return str(record["value"] or "")
    return ""


def can_open_a_window() -> bool:
    """Only where a graphical browser can appear: on a bare Linux console `webbrowser` would start a
    text browser (lynx, w3m) inside the terminal instead."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(
    *,
    neo4j_uri: str | None,
    username: str,
    password: str | None,
    database: str | None,
    browser_url: str | None,
    open_window: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """`trailgraph browser`: print Browser's URL on stdout (for scripts), notes on stderr, and open it."""
    if not neo4j_uri:
        port = os.environ.get("NEO4J_BOLT_PORT") or "7687"
        neo4j_uri = f"bolt://127.0.0.1:{port}"
        print(
            f"NEO4J_URI is not set: using the local server (tools/neo4j/neo4j.sh) at {neo4j_uri}. "
            "Neo4j Browser shows only what was loaded into Neo4j, not the embedded store.",
            file=err,
        )
    bench = workbench_for(neo4j_uri, username=username, database=database, browser_url=browser_url)
    print(bench.browser_url, file=out)
    print(f"Connect as {username} (password: NEO4J_PASSWORD) to {neo4j_uri}.", file=err)
    configured = server_post_connect_cmd(neo4j_uri, username, password) if password else None
    if configured is None:
        print(
            "On connect, servers started by tools/neo4j/neo4j.sh or docker compose apply the trailgraph "
            "style and open its guide (set NEO4J_PASSWORD to have this checked).",
            file=err,
        )
    elif STYLE_MARKER in configured and GUIDE_FILE in configured:
        print("This server applies the trailgraph style and opens its guide on connect.", file=err)
    else:
        print(
            "This server does not apply the trailgraph style on connect. A tools/neo4j/neo4j.sh server "
            "started before `trailgraph browser` existed needs a restart (neo4j.sh stop; neo4j.sh start); "
            "elsewhere, run :style in Browser followed by the contents of browser/trailgraph.grass, or "
            "restart a docker compose server after `python -m trailgraph.workbench`.",
            file=err,
        )
    if open_window:
        if can_open_a_window() and webbrowser.open(bench.browser_url):
            print("Opened in your web browser.", file=err)
        else:
            print("No graphical web browser here: open the URL above yourself.", file=err)
    return 0


COMPOSE_FILE = BROWSER_DIR.parent / "docker-compose.yml"
COMPOSE_ASSETS = "http://${TRAILGRAPH_ASSETS_HOST:-localhost}:${TRAILGRAPH_ASSETS_PORT:-7475}"
_COMPOSE_LINE = re.compile(r"^(\s*NEO4J_browser_post__connect__cmd: ).*$", re.MULTILINE)


def compose_post_connect_line() -> str:
    """docker-compose.yml's post-connect setting: the style inline, the guide from the workbench service."""
    value = post_connect_cmd(COMPOSE_ASSETS).replace("\\", "\\\\").replace('"', '\\"')
    return f'NEO4J_browser_post__connect__cmd: "{value}"'


def write_compose(path: Path = COMPOSE_FILE) -> None:
    """Put the current style into docker-compose.yml's post-connect setting (after editing the style)."""
    text = path.read_text(encoding="utf-8")
    line = compose_post_connect_line()
    path.write_text(_COMPOSE_LINE.sub(lambda m: m.group(1) + line.split(": ", 1)[1], text), encoding="utf-8")


if __name__ == "__main__":  # python -m trailgraph.workbench: regenerate the guide and compose's style
    write_guide(BROWSER_DIR / GUIDE_FILE)
    write_compose()

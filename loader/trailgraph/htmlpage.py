"""One offline HTML page for every picture: the map, the activity timeline and the trace.

The shell (`assets/page.html`), the shared style and script (`page.css`, `page.js`) and each page's
own body, style and script are real files in the package (`trailgraph.assets`); this module only
fills the shell. The data goes in as JSON that cannot end its <script> element, the vendored
Cytoscape.js (and its dagre layout where a layout runs) inline, and a Content-Security-Policy pins
every inline script and the style by hash and allows nothing else: the page fetches nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from typing import Any

LIBRARY = "cytoscape.min.js"
LAYOUT = "cytoscape-dagre.min.js"


def asset(name: str) -> str:
    """A file shipped in trailgraph/assets (package data)."""
    return (resources.files("trailgraph") / "assets" / name).read_text(encoding="utf-8")


def json_for_script(payload: Any) -> str:
    """JSON that cannot end its <script> element or open a comment: <, >, & and line separators escaped."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_page(page: str, title: str, data: Any, *, layout: bool) -> str:
    """The `page` (map, timeline or trace): its body `<page>.html`, style `page.css` + `<page>.css`,
    scripts Cytoscape.js (+ dagre when `layout`), `page.js` and `<page>.js`."""
    names = [LIBRARY, *([LAYOUT] if layout else []), "page.js", f"{page}.js"]
    scripts = [asset(name) for name in names]
    style = asset("page.css") + asset(f"{page}.css")
    csp = f"default-src 'none'; script-src {' '.join(map(csp_hash, scripts))}; style-src {csp_hash(style)}"
    parts = {
        "csp": html.escape(csp),
        "title": html.escape(title),
        "style": style,
        "body": asset(f"{page}.html"),
        "data": json_for_script(data),
        "scripts": "\n".join(f"<script>{text}</script>" for text in scripts),
    }
    # One pass: what goes in is never read for placeholders again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], asset("page.html"))

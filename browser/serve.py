"""Serve trailgraph's Neo4j Browser style and guide to a Browser on another origin (docker-compose).

The official Neo4j image serves Browser from its own jar, so the `workbench` service of
docker-compose.yml runs this file (standard library only, in the stock python image) beside it, and
Neo4j's `browser.post_connect_cmd` fetches the two files from here. Browser fetches them with
`fetch()` from its own origin (port 7474) and no-cache headers, so Chromium first sends a CORS
preflight (OPTIONS): both answers carry the CORS headers. Only the style sheet and the guide are
served, nothing else in the folder.

    python browser/serve.py [--bind 0.0.0.0] [--port 7475]
"""

from __future__ import annotations

import argparse
import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVED = frozenset({"/trailgraph.grass", "/guide.html"})


class AssetHandler(SimpleHTTPRequestHandler):
    def send_head(self) -> Any:
        if self.path.split("?", 1)[0] not in SERVED:
            self.send_error(404, "not a trailgraph Browser asset")
            return None
        return super().send_head()

    def do_OPTIONS(self) -> None:
        asked = self.headers.get("Access-Control-Request-Headers", "*")
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", asked)
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return "text/html; charset=utf-8" if str(path).endswith(".html") else "text/plain; charset=utf-8"

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()


def make_server(bind: str, port: int, directory: Path) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((bind, port), functools.partial(AssetHandler, directory=str(directory)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=7475, help="port (default 7475)")
    args = parser.parse_args()
    server = make_server(args.bind, args.port, Path(__file__).resolve().parent)
    print(f"serving {sorted(SERVED)} on {args.bind}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

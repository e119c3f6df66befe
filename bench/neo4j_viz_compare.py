"""The same map model drawn by neo4j-viz (Neo4j's NVL renderer), to compare page size with ours.

neo4j-viz is not a trailgraph dependency; run this in a scratch venv:

    python3 -m venv /tmp/viz && /tmp/viz/bin/pip install neo4j-viz==1.11.0
    trailgraph map --store graph.db --format json -o map.json
    /tmp/viz/bin/python bench/neo4j_viz_compare.py map.json viz.html && ls -l viz.html
"""

from __future__ import annotations

import json
import sys
import time

from neo4j_viz import Node, Relationship, VisualizationGraph


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        data = json.load(handle)
    ids = {n["id"]: i for i, n in enumerate(data["nodes"])}
    nodes = [
        Node(id=ids[n["id"]], caption=n["label"], properties={"kind": n["kind"], "sessions": n["sessions"]})
        for n in data["nodes"]
    ]
    rels = [
        Relationship(
            source=ids[e["source"]],
            target=ids[e["target"]],
            caption=str(e["summary"]["count"]),
            properties={"sessions": json.dumps(e["sessions"])},  # the same session lists our page carries
        )
        for e in data["edges"]
    ]
    start = time.perf_counter()
    page = VisualizationGraph(nodes=nodes, relationships=rels).render(layout="hierarchical")
    text = getattr(page, "data", None) or str(page)
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"render() {time.perf_counter() - start:.2f} s, {len(text.encode()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

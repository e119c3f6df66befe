"""`python -m trailgraph`: the same CLI as the `trailgraph` command."""

from trailgraph.cli import main

main()

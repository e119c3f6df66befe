"""What spark-submit runs: `spark-submit [options] $(python -m trailgraph.spark entry) spark-load ARGS`."""

from trailgraph.cli import main

if __name__ == "__main__":
    main()

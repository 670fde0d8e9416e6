"""``python -m pipeline``: the cvp command line."""

from pipeline.cli import main

main()

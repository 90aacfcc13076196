"""`python -m mlrollout`: the same command line as `mlrollout`."""

from mlrollout.cli import main

main()

"""python -m workflows.cli: the mlops command."""

from workflows.cli.app import main

main()

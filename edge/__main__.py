"""`python -m edge` runs the command-line interface."""

from edge.cli import main

raise SystemExit(main())

"""`python -m rat_tui` runs the same command line as `rat`."""

from rat_tui.cli import main

raise SystemExit(main())

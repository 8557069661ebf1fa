"""``python -m convcalc``: the command line (see :mod:`convcalc.cli`)."""

from convcalc.cli import main

raise SystemExit(main())

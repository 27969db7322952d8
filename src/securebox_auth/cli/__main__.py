"""``python3 -m securebox_auth.cli``: the ``securebox`` command."""

from securebox_auth.cli import main

raise SystemExit(main())

"""``python3 -m securebox_auth.cli``: the ``securebox`` command."""

from securebox_auth.cli import main

if __name__ == "__main__":  # imported (by pkgutil.walk_packages, a doc tool), it does nothing
    raise SystemExit(main())

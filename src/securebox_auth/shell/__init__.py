"""The imperative shell's entry point: :class:`~securebox_auth.shell.securebox.Securebox`.

Submodules are imported by name (``securebox_auth.shell.securebox``); the public names are
re-exported from :mod:`securebox_auth`."""

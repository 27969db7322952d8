"""The imperative shell: the services that read a store, call the pure core and commit the
result with compare-and-swap (one retry helper, :mod:`securebox_auth.shell.retry`; one small
service per factor), and the entry point that puts them together,
:class:`~securebox_auth.shell.securebox.Securebox`, with the login and step-up flows.

Submodules are imported by name (``securebox_auth.shell.securebox``); the public names are
re-exported from :mod:`securebox_auth`."""

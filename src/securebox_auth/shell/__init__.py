"""The imperative shell: the services that read a store, call the pure core and commit
the result with compare-and-swap (one retry helper, :mod:`securebox_auth.shell.retry`;
one small service per factor)."""

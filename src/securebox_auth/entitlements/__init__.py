"""Entitlements: who may see which company, theme or document, and do which operation.

* :mod:`.model` -- subscriptions, companies, themes, rights, invitations (frozen values);
* :mod:`.check` -- ``check(context, action, resource) -> AccessDecision`` with ``explain()``;
* :mod:`.visibility` -- the filter that lists what a user may see, and its in-memory form;
* :mod:`.admin` -- pure administrative transitions with their rules and audit events;
* :mod:`.accounts` -- accounts of a subscription, their role and status;
* :mod:`.catalogue` -- the documents a user may see, listed and searched in memory;
* :mod:`.service` -- the old import path of ``EntitlementService`` (a re-export): the shell
  that loads, decides and commits lives in :mod:`securebox_auth.shell.entitlements`.
"""

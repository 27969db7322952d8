"""Administration of a subscription: users, companies, third parties (issue 16).

Every change is a sensitive operation: a form makes a step-up draft
(:mod:`securebox_server.stepup`), and the change is applied by the library's
:class:`~securebox_auth.shell.entitlements.EntitlementService` once the grant is consumed.
"""

"""Third parties invited by e-mail: the links (:mod:`.links`), the messages (:mod:`.mail`),
the shell over the library (:mod:`.service`) and the invitee's pages (:mod:`.pages`).

:func:`.wiring.install` keeps an :class:`~.service.Invitations` on ``app.state.invitations``
(after :func:`securebox_server.stepup.install`, which migrates the server's tables), and
registers the administration's changes on ``app.state.changes`` (applied by the step-up's
execution).
"""

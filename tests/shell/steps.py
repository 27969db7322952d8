"""The step-up used by the concurrency tests (not a test module: no tests here)."""

from __future__ import annotations

from securebox_auth import Channel, CodeAnswer, OobAnswer, OperationRequest, Securebox
from tests.shell.portal import CODE, Phone


def payee_step_up(box: Securebox, phone: Phone, session_id: str, payee: str) -> tuple[str, int]:
    """A payee step-up (SMS + code) and its execution: (session id, 1 if executed)."""
    up = box.start_step_up(session_id, OperationRequest("payee_management", payee=payee))
    sms = box.send_step_up_code(
        session_id, up.handle, channel=Channel.SMS, destination="+33600000001"
    )
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(up.session_id, up.handle, CodeAnswer(CODE))
    done = box.execute(up.session_id, up.handle)
    return up.session_id, int(done.executed)

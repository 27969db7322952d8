"""Lockout, in one place: the rules and the per-element state machine (:mod:`.rules`:
blocking after failures, temporary and permanent blocks, unblocking) and the failure
accounting every factor shares (:mod:`.attempts`: a failure or a success recorded, with
its audit event).
"""

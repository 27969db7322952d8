"""The digital box (issue 15): documents by theme, their bodies, validity and retention,
notifications' outbox and the receivers' feed (ADR 0030)."""

"""The jobs worker: the notification outbox sent in digests (at least once, under a stable
Message-ID), the box's expiry clocks and the purge, under leases (ADR 0033)."""

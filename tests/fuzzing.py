"""How deep the fuzz and differential tests go.

The default run stays fast (a few hundred examples per parser). ``SECUREBOX_FUZZ_SCALE``
multiplies every budget, so a deeper run is ``SECUREBOX_FUZZ_SCALE=50 pytest -m fuzz`` (the
``fuzz`` nox session does this).
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

SCALE: Final = max(1, int(os.environ.get("SECUREBOX_FUZZ_SCALE", "1")))


def fuzz(examples: int = 200) -> settings:
    """Hypothesis settings for a fuzz test: ``examples`` times the scale, no deadline, and
    no complaint about slow or filtered data generation (the inputs are meant to be odd)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )

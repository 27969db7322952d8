"""The portal's settings for its tests: secrets and files in a fresh temporary folder, fast
argon2id parameters (the per-test store and keys are set by ``conftest.py``)."""

import os
import tempfile

os.environ["PORTAL_DATA_DIR"] = tempfile.mkdtemp(prefix="django-portal-tests-")

from portal.settings import *  # noqa: F403
from portal.settings import SECUREBOX

SECUREBOX = {**SECUREBOX, "ARGON2": "testing"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # staff passwords: fast

"""Settings from the environment over a TOML file, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_server.settings import Settings, load_settings


def test_environment_over_file(tmp_path: Path) -> None:
    file = tmp_path / "server.toml"
    file.write_text(
        'database_url = "sqlite:///a.db"\npublic_url = "https://portal.example"\n'
        'master_key_file = "/keys/master"\ntrusted_proxies = ["10.0.0.1"]\n'
    )
    settings = load_settings({"SECUREBOX_DATABASE_URL": "postgresql://db/x"}, file)
    assert settings.database_url == "postgresql://db/x"
    assert settings.tls
    assert settings.origin == "https://portal.example"
    assert settings.trusted_proxies == ("10.0.0.1",)


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="master_key_file"):
        load_settings({})
    with pytest.raises(ConfigurationError, match="public_url"):
        Settings(public_url="ftp://x", demo=True)
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigurationError, match="unknown keys"):
        load_settings({}, bad)
    assert load_settings({"SECUREBOX_DEMO": "yes"}).demo


def test_blob_store_is_the_database_or_an_absolute_folder(tmp_path: Path) -> None:
    assert Settings(demo=True).blob_folder is None
    settings = load_settings({"SECUREBOX_DEMO": "1", "SECUREBOX_BLOB_STORE": f"file:{tmp_path}"})
    assert settings.blob_folder == tmp_path
    for bad in ("files", "file:relative/folder", "s3://bucket", "file:", ""):
        with pytest.raises(ConfigurationError, match="blob_store"):
            Settings(demo=True, blob_store=bad)


def test_code_letters_dir_from_the_environment(tmp_path: Path) -> None:
    found = load_settings({"SECUREBOX_DEMO": "true", "SECUREBOX_CODE_LETTERS_DIR": str(tmp_path)})
    assert found.code_letters_dir == tmp_path
    assert load_settings({"SECUREBOX_DEMO": "true"}).code_letters_dir is None

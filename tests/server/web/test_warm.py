"""The factory uvicorn's workers import compiles every template and catalog before the
worker serves (:func:`securebox_server.web.pages.warm`), so a new worker's first pages
cost what the others do."""

from __future__ import annotations

from pathlib import Path

import pytest

from securebox_server import i18n
from securebox_server.factory import app_from_environment
from securebox_server.web.context import Server
from securebox_server.wiring import migrate_database, write_master_key


def test_the_factory_compiles_every_template_and_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "master.key"
    write_master_key(key)
    url = f"sqlite:///{tmp_path}/warm.db"
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'database_url = "{url}"\nmaster_key_file = "{key}"\n'
        'public_url = "http://127.0.0.1:8000"\n',
        encoding="utf-8",
    )
    migrate_database(url)
    monkeypatch.setenv("SECUREBOX_SETTINGS", str(settings))
    i18n.translations.cache_clear()
    server: Server = app_from_environment().state.server
    assert set(server.templates.languages) == set(i18n.LANGUAGES)
    for environment in server.templates.languages.values():
        names = environment.list_templates(extensions=["html"])
        assert len(names) > 50
        cache = environment.cache
        assert cache is not None
        assert len(cache) == len(names)
    assert i18n.translations.cache_info().currsize == len(i18n.LANGUAGES)

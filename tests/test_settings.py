from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings

ROOT = Path(__file__).resolve().parent.parent


def _names_in_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_env_example_lists_every_setting() -> None:
    names = set(_names_in_example())
    expected = {
        ("TELEGRAM_BOT_TOKEN" if f == "telegram_bot_token" else f"QUOTEQA_{f.upper()}") for f in Settings.model_fields
    }
    assert names == expected


def test_env_example_values_load_as_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("QUOTEQA_") or key == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(key)
    for key, value in _names_in_example().items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert s.corpus_dir == PROJECT_ROOT / "corpus" and s.telegram_bot_token is None
    assert s.allowed_chat_ids == [] and s.bm25_variant == "lucene"


def test_env_beats_dotenv_and_token_stays_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=123:fromfile\nQUOTEQA_MAX_QUOTES=5\nQUOTEQA_ADMIN_USER_IDS=1, 2\n"
    )
    monkeypatch.setenv("QUOTEQA_MAX_QUOTES", "2")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    s = Settings()
    assert s.max_quotes == 2 and s.admin_user_ids == [1, 2]
    assert s.telegram_bot_token is not None and s.telegram_bot_token.get_secret_value() == "123:fromfile"
    assert "fromfile" not in repr(s) and "fromfile" not in str(s.model_dump())


def test_the_core_defaults_are_the_products(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """One pipeline everywhere: a bare `EngineConfig(corpus, data)` — what tests, `bench` and
    `measure` open — is exactly what a user with no settings runs (encoder included), and a
    setting changes the config it is meant to."""
    import dataclasses

    from bot.wiring import engine_config
    from retrieval import EngineConfig

    monkeypatch.chdir(tmp_path)  # no .env
    for key in list(os.environ):
        if key.startswith("QUOTEQA_"):
            monkeypatch.delenv(key)
    settings = Settings()
    config = engine_config(settings)
    assert config == EngineConfig(settings.corpus_dir, settings.data_dir)
    assert config.encoder == "use-m3" and config.search.variant == "lucene" and config.max_quotes == settings.max_quotes
    monkeypatch.setenv("QUOTEQA_ENCODER", "none")
    monkeypatch.setenv("QUOTEQA_BM25_K1", "1.2")
    monkeypatch.setenv("QUOTEQA_MAX_QUOTES", "5")
    changed = engine_config(Settings())
    assert dataclasses.replace(config, encoder="none", search=dataclasses.replace(config.search, k1=1.2), max_quotes=5) == changed

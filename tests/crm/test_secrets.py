"""Secrets have no public default: unset ones are generated once into $CRM_HOME (0600) and reused by every process."""

from __future__ import annotations

import stat
import threading

from crm.settings import Settings

OLD_PUBLIC_SECRET = "dev-insecure-secret-change-me"


def test_session_secret_is_generated_once_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    home = tmp_path / "home"
    first = Settings(crm_home=home).session_secret
    assert first != OLD_PUBLIC_SECRET and len(first) >= 43  # 256 bits, URL-safe base64
    assert Settings(crm_home=home).session_secret == first  # a second load (another worker) agrees
    secret_file = home / "secret_key"
    assert secret_file.read_text().strip() == first
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert Settings(crm_home=tmp_path / "elsewhere").session_secret != first  # random, not a constant


def test_an_explicit_secret_wins_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("CRM_APP_DB_PASSWORD", "p" * 20)
    settings = Settings(crm_home=tmp_path)
    assert settings.session_secret == "k" * 40 and settings.app_db_password == "p" * 20
    assert list(tmp_path.iterdir()) == []


def test_app_db_password_is_generated_too(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_APP_DB_PASSWORD", raising=False)
    password = Settings(crm_home=tmp_path).app_db_password
    assert password != "crm_app" and len(password) >= 32
    assert Settings(crm_home=tmp_path).app_db_password == password
    assert stat.S_IMODE((tmp_path / "app_db_password").stat().st_mode) == 0o600
    assert Settings(crm_home=tmp_path).session_secret != password  # separate secrets


def test_workers_racing_at_start_up_agree_on_one_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    home = tmp_path / "race"
    start = threading.Barrier(16)
    seen: list[str] = []

    def load() -> None:
        start.wait()
        seen.append(Settings(crm_home=home).session_secret)

    threads = [threading.Thread(target=load) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 16 and len(set(seen)) == 1
    assert [p.name for p in home.iterdir()] == ["secret_key"]  # no temporary files left behind

import pytest

from council import create_app
from council.config import from_environment, normalise_database_url


def test_environment_variables_override_with_json_values():
    settings = from_environment({"COUNCIL_SESSION_IDLE_MINUTES": "15", "COUNCIL_SITE_TITLE": "Reading room",
                                 "COUNCIL_LANGUAGES": '["en", "ar"]', "DATABASE_URL": "postgresql://x/y",
                                 "OTHER": "ignored"})
    assert settings == {"SESSION_IDLE_MINUTES": 15, "SITE_TITLE": "Reading room", "LANGUAGES": ["en", "ar"],
                        "SQLALCHEMY_DATABASE_URI": "postgresql://x/y"}


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_production_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("COUNCIL_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENVIRONMENT": "production", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_production_uses_a_host_only_secure_cookie(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="PAYEE_DATA_KEY"):
        create_app({"ENVIRONMENT": "production", "SECRET_KEY": "s" * 40,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    app = create_app({"ENVIRONMENT": "production", "SECRET_KEY": "s" * 40, "PAYEE_DATA_KEY": "k" * 43,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-council"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_makes_and_keeps_its_own_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("COUNCIL_SECRET_KEY", raising=False)
    first = create_app({"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    second = create_app({"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_behind_a_proxy_the_forwarded_scheme_and_address_are_trusted(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    app = create_app({"ENVIRONMENT": "testing", "SECRET_KEY": "s" * 40, "PROXY_HOPS": 1,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    response = app.test_client().get("/exit", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")

import secrets

import pytest

from council import create_app
from council.config import from_environment, normalise_database_url, secret_weakness


def test_environment_variables_override_with_json_values():
    settings = from_environment(
        {
            "COUNCIL_SESSION_IDLE_MINUTES": "15",
            "COUNCIL_SITE_TITLE": "Reading room",
            "COUNCIL_LANGUAGES": '["en", "ar"]',
            "DATABASE_URL": "postgresql://x/y",
            "OTHER": "ignored",
        }
    )
    assert settings == {
        "SESSION_IDLE_MINUTES": 15,
        "SITE_TITLE": "Reading room",
        "LANGUAGES": ["en", "ar"],
        "SQLALCHEMY_DATABASE_URI": "postgresql://x/y",
    }


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
    monkeypatch.delenv("COUNCIL_PAYEE_DATA_KEY", raising=False)
    with pytest.raises(RuntimeError, match="PAYEE_DATA_KEY cannot be used: it is not set"):
        create_app(
            {
                "ENVIRONMENT": "production",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )
    app = create_app(
        {
            "ENVIRONMENT": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PAYEE_DATA_KEY": secrets.token_urlsafe(32),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
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
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "SECRET_KEY": "s" * 40,
            "PROXY_HOPS": 1,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
    response = app.test_client().get("/exit", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "not set"),
        (None, "not set"),
        ("dev", "placeholder"),
        ("change-me-to-a-long-random-value-of-at-least-32-bytes", "placeholder"),
        ("REPLACE_ME with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'", "placeholder"),
        ("Your-Secret-Key-123456789012345678901234567890", "placeholder"),
        ("secret", "placeholder"),
        ("a short but random-ish Q7#x9", "shorter than 32 bytes"),
        ("9m17YVH1g3tFDNGqhdHW_w", "shorter than 32 bytes"),  # a random 16 bytes: token_urlsafe(16)
        ("s" * 40, "repeats"),
        ("abcabcabcabcabcabcabcabcabcabcabcabc", "repeats"),
    ],
)
def test_weak_secrets_are_named(value, reason):
    assert reason in secret_weakness(value)


def test_generated_secrets_pass():
    assert secret_weakness(secrets.token_urlsafe(32)) is None
    assert secret_weakness(secrets.token_hex(32)) is None
    assert secret_weakness(secrets.token_bytes(32) + b"\x00") is None
    assert "development secret" in secret_weakness(
        "x" * 10 + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        development_value="x" * 10 + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n",
    )


def _production_app(tmp_path, **config):
    return create_app({"ENVIRONMENT": "production", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **config})


@pytest.fixture
def clean_secret_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    for name in (
        "COUNCIL_SECRET_KEY",
        "COUNCIL_PAYEE_DATA_KEY",
        "COUNCIL_SECRET_KEY_FILE",
        "COUNCIL_PAYEE_DATA_KEY_FILE",
        "DATABASE_URL",
        "DATABASE_URL_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("weak", ["change-me", "dev", "s" * 40, "0123456789abcdef"])
def test_production_refuses_a_weak_secret_key(clean_secret_environment, tmp_path, weak):
    with pytest.raises(RuntimeError, match="SECRET_KEY cannot be used") as refused:
        _production_app(tmp_path, SECRET_KEY=weak, PAYEE_DATA_KEY=secrets.token_urlsafe(32))
    assert "COUNCIL_SECRET_KEY_FILE" in str(refused.value)  # the message says how to fix it
    assert len(weak) < 5 or weak not in str(refused.value)  # and never repeats the value


@pytest.mark.parametrize("weak", ["CHANGE_ME_" + "x" * 40, "", "k" * 43])
def test_production_refuses_a_weak_payee_data_key(clean_secret_environment, tmp_path, weak):
    with pytest.raises(RuntimeError, match="PAYEE_DATA_KEY cannot be used"):
        _production_app(tmp_path, SECRET_KEY=secrets.token_urlsafe(32), PAYEE_DATA_KEY=weak)


def test_production_refuses_the_development_secret_and_one_key_for_both(clean_secret_environment, tmp_path):
    development = create_app({"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    with pytest.raises(RuntimeError, match="SECRET_KEY cannot be used: it is the development secret"):
        _production_app(tmp_path, SECRET_KEY=development.config["SECRET_KEY"], PAYEE_DATA_KEY=secrets.token_urlsafe(32))
    with pytest.raises(RuntimeError, match="PAYEE_DATA_KEY cannot be used: it is the development secret"):
        _production_app(
            tmp_path, SECRET_KEY=secrets.token_urlsafe(32), PAYEE_DATA_KEY=development.config["PAYEE_DATA_KEY"]
        )
    same = secrets.token_urlsafe(32)
    with pytest.raises(RuntimeError, match="are the same value"):
        _production_app(tmp_path, SECRET_KEY=same, PAYEE_DATA_KEY=same)


def test_production_reads_secrets_from_files(clean_secret_environment, tmp_path):
    secret_key, payee_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    (tmp_path / "secret_key.txt").write_text(secret_key + "\n")  # as `echo` or an editor leaves it
    (tmp_path / "payee_data_key.txt").write_text(payee_key)
    clean_secret_environment.setenv("COUNCIL_SECRET_KEY_FILE", str(tmp_path / "secret_key.txt"))
    clean_secret_environment.setenv("COUNCIL_PAYEE_DATA_KEY_FILE", str(tmp_path / "payee_data_key.txt"))
    app = _production_app(tmp_path)
    assert app.config["SECRET_KEY"] == secret_key
    assert app.config["PAYEE_DATA_KEY"] == payee_key
    assert "SECRET_KEY_FILE" not in app.config


def test_production_refuses_a_weak_secret_from_a_file(clean_secret_environment, tmp_path):
    (tmp_path / "secret_key.txt").write_text("changeme\n")
    clean_secret_environment.setenv("COUNCIL_SECRET_KEY_FILE", str(tmp_path / "secret_key.txt"))
    with pytest.raises(RuntimeError, match="SECRET_KEY cannot be used: it is a placeholder"):
        _production_app(tmp_path, PAYEE_DATA_KEY=secrets.token_urlsafe(32))


def test_any_setting_can_come_from_a_file(tmp_path):
    (tmp_path / "redis").write_text("redis://:p%40ss@cache.internal:6379/0\n")
    (tmp_path / "db").write_text("postgresql://council:pw@db.internal/council\n")
    (tmp_path / "title").write_text("123")
    settings = from_environment(
        {
            "COUNCIL_RATELIMIT_STORAGE_URI_FILE": str(tmp_path / "redis"),
            "DATABASE_URL_FILE": str(tmp_path / "db"),
            "COUNCIL_SITE_TITLE_FILE": str(tmp_path / "title"),
            "COUNCIL_PAYEE_DATA_KEY_FILE": "",
        }
    )  # empty: as if unset
    assert settings == {
        "RATELIMIT_STORAGE_URI": "redis://:p%40ss@cache.internal:6379/0",
        "SQLALCHEMY_DATABASE_URI": "postgresql://council:pw@db.internal/council",
        "SITE_TITLE": "123",
    }  # a file's text is never read as JSON


def test_a_setting_council_names_with_file_stays_a_path(monkeypatch, tmp_path):
    import council.config

    monkeypatch.setattr(council.config, "AUDIT_EXPORT_FILE", "", raising=False)
    assert from_environment({"COUNCIL_AUDIT_EXPORT_FILE": "/nonexistent/x.csv"}) == {
        "AUDIT_EXPORT_FILE": "/nonexistent/x.csv"
    }


def test_secret_files_fail_closed(tmp_path):
    (tmp_path / "key").write_text("x" * 40)
    with pytest.raises(RuntimeError, match="Both COUNCIL_SECRET_KEY and COUNCIL_SECRET_KEY_FILE"):
        from_environment({"COUNCIL_SECRET_KEY": "y" * 40, "COUNCIL_SECRET_KEY_FILE": str(tmp_path / "key")})
    with pytest.raises(RuntimeError, match="Both DATABASE_URL and DATABASE_URL_FILE"):
        from_environment({"DATABASE_URL": "postgresql://a/b", "DATABASE_URL_FILE": str(tmp_path / "key")})
    with pytest.raises(RuntimeError, match="COUNCIL_SECRET_KEY_FILE names .*missing.*cannot be read"):
        from_environment({"COUNCIL_SECRET_KEY_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    "setting",
    [
        {"SQLALCHEMY_ECHO": True},
        {"SQLALCHEMY_ECHO": "debug"},
        {"SQLALCHEMY_RECORD_QUERIES": True},
        {"SQLALCHEMY_ENGINE_OPTIONS": {"echo": True}},
        {"SQLALCHEMY_ENGINE_OPTIONS": {"echo_pool": "debug"}},
        {"SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": False}},
    ],
)
def test_production_refuses_to_start_with_sql_echo(clean_secret_environment, tmp_path, setting):
    keys = {"SECRET_KEY": secrets.token_urlsafe(32), "PAYEE_DATA_KEY": secrets.token_urlsafe(32)}
    with pytest.raises(RuntimeError, match="cannot be used in production") as refused:
        _production_app(tmp_path, **keys, **setting)
    assert next(iter(setting)) in str(refused.value) or "SQLALCHEMY_ENGINE_OPTIONS" in str(refused.value)
    # As an environment variable, the way an operator would set it.
    clean_secret_environment.setenv("COUNCIL_SQLALCHEMY_ECHO", "true")
    with pytest.raises(RuntimeError, match="SQLALCHEMY_ECHO cannot be used in production"):
        _production_app(tmp_path, **keys)
    clean_secret_environment.delenv("COUNCIL_SQLALCHEMY_ECHO")
    assert _production_app(tmp_path, **keys).config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is True
    development = create_app(
        {"ENVIRONMENT": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **setting}
    )
    assert development.config["ENVIRONMENT"] == "development"  # a developer may look at SQL

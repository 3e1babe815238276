"""Council: a survivor advisory council reviews an organisation's draft policies."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from council import config as default_config
from council.config import SECRET_MIN_BYTES, from_environment, normalise_database_url, secret_weakness

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    from council.transactions import CouncilFlask

    app = CouncilFlask(
        __name__,
        instance_path=os.environ.get("COUNCIL_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _load_config(app, test_config)

    from council.database import prepare_engine_options
    from council.extensions import babel, csrf, db, limiter, login_manager, migrate

    prepare_engine_options(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)

    from council.i18n import init_translations, select_locale, select_timezone

    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(PROJECT_ROOT / "translations"),
    )
    init_translations(app)

    from council.accounts.access import init_access
    from council.accounts.sessions import ServerSessionInterface
    from council.database import configure_engine
    from council.security import init_security

    configure_engine(app)
    app.session_interface = ServerSessionInterface()
    login_manager.init_app(app)
    init_access(app)
    init_security(app)

    from council.accounts.views import bp as accounts_bp
    from council.admin.views import bp as admin_bp
    from council.calendars.views import bp as calendars_bp
    from council.commitments.views import bp as commitments_bp
    from council.compensation.views import bp as compensation_bp
    from council.digest.views import bp as digest_bp
    from council.feedback.views import bp as feedback_bp
    from council.notices.views import bp as notices_bp
    from council.own_data.views import bp as own_data_bp
    from council.pages.errors import init_errors
    from council.pages.views import bp as pages_bp
    from council.policies.views import bp as policies_bp
    from council.summaries.views import bp as summaries_bp
    from council.surveys.views import bp as surveys_bp
    from council.taking_part.views import bp as taking_part_bp
    from council.templating import init_templating
    from council.voting.views import bp as voting_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(policies_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(voting_bp)
    app.register_blueprint(compensation_bp)
    app.register_blueprint(summaries_bp)
    app.register_blueprint(digest_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(own_data_bp)
    app.register_blueprint(commitments_bp)
    app.register_blueprint(calendars_bp)
    app.register_blueprint(surveys_bp)
    app.register_blueprint(taking_part_bp)
    init_errors(app)
    init_templating(app)

    from council.mix.scheduler import init_development_flusher

    init_development_flusher(app)

    from council.cli import council_cli

    app.cli.add_command(council_cli)

    from council.operations.logging import init_logging

    init_logging(app)  # before ProxyFix, which then hands the request log the visitor's address

    if app.config["PROXY_HOPS"]:
        # Behind a reverse proxy: trust its forwarded address and scheme, so rate
        # limits apply per visitor and HTTPS is recognised for HSTS.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        # Flask's documented way to wrap the app in WSGI middleware.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    # Import every model so Alembic and create_all see the whole schema.
    import council.models  # noqa: F401

    return app


def _load_config(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(default_config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(from_environment())
    if test_config:
        app.config.update(test_config)

    production = app.config["ENVIRONMENT"] == "production"
    if production:
        _refuse_weak_secrets(app.config, Path(app.instance_path))
        _refuse_sql_echo(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))
    if not app.config.get("PAYEE_DATA_KEY"):
        app.config["PAYEE_DATA_KEY"] = _development_secret(Path(app.instance_path), "payee_data_key", 32)

    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'council.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])

    # __Host- cookies need HTTPS; development serves plain HTTP on loopback.
    app.config["SESSION_COOKIE_SECURE"] = production
    app.config["SESSION_COOKIE_NAME"] = "__Host-council" if production else "council"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("PREFERRED_URL_SCHEME", "https" if production else "http")


#: Each production secret, the file its development stand-in lives in, and what it protects.
_SECRETS = (
    ("SECRET_KEY", "secret_key", "it signs form tokens and seals comments kept while someone signs in again"),
    (
        "PAYEE_DATA_KEY",
        "payee_data_key",
        "payee details and email addresses are encrypted with it; back it up apart from the database",
    ),
)


def _refuse_weak_secrets(config, instance: Path) -> None:
    """Production runs only on generated secrets: not missing, not an example, not the development one."""
    problems = []
    for name, development_file, purpose in _SECRETS:
        development = instance / development_file
        weakness = secret_weakness(
            config.get(name), development_value=development.read_text() if development.is_file() else None
        )
        if weakness:
            problems.append(f"{name} cannot be used: {weakness} ({purpose}).")
    if not problems and config["SECRET_KEY"] == config["PAYEE_DATA_KEY"]:
        problems.append("SECRET_KEY and PAYEE_DATA_KEY are the same value; each needs its own.")
    if problems:
        raise RuntimeError(
            " ".join(problems) + " Set COUNCIL_SECRET_KEY and COUNCIL_PAYEE_DATA_KEY, or COUNCIL_SECRET_KEY_FILE and "
            "COUNCIL_PAYEE_DATA_KEY_FILE naming files that hold them, each to its own random value of at least "
            f"{SECRET_MIN_BYTES} bytes: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'. "
            "Council will not run in production with a missing, example or development secret."
        )


#: Engine options that make SQLAlchemy write statements' values (what people typed, ids, tags) to a log.
_ECHO_OPTIONS = ("echo", "echo_pool")


def _refuse_sql_echo(config) -> None:
    """Production never echoes SQL or shows a statement's parameters: Council's log filters take values
    out of SQLAlchemy's lines, and this keeps them from being written in the first place."""
    options = config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    problems = [name for name in ("SQLALCHEMY_ECHO", "SQLALCHEMY_RECORD_QUERIES") if config.get(name)]
    problems += [f"SQLALCHEMY_ENGINE_OPTIONS {name}" for name in _ECHO_OPTIONS if options.get(name)]
    if options.get("hide_parameters", True) is not True:
        problems.append("SQLALCHEMY_ENGINE_OPTIONS hide_parameters=False")
    if problems:
        raise RuntimeError(
            f"{', '.join(problems)} cannot be used in production: they write or keep the values of every "
            "statement (what people typed, their ids and tags), which the logs must never hold "
            '(docs/threat-model.md, "Logs"). Remove them, or run with COUNCIL_ENVIRONMENT=development.'
        )


def _development_secret(instance: Path, name: str = "secret_key", size: int = 48) -> str:
    """A random secret kept in instance/, made once per development checkout."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(size))
        path.chmod(0o600)
    return path.read_text().strip()

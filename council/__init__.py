"""Council: a survivor advisory council reviews an organisation's draft policies."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from council import config as default_config
from council.config import from_environment, normalise_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("COUNCIL_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _load_config(app, test_config)

    from council.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)

    from council.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(PROJECT_ROOT / "translations"))

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
    from council.compensation.views import bp as compensation_bp
    from council.digest.views import bp as digest_bp
    from council.summaries.views import bp as summaries_bp
    from council.notices.views import bp as notices_bp
    from council.feedback.views import bp as feedback_bp
    from council.pages.errors import init_errors
    from council.voting.views import bp as voting_bp
    from council.pages.views import bp as pages_bp
    from council.policies.views import bp as policies_bp
    from council.templating import init_templating

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
    init_errors(app)
    init_templating(app)

    from council.cli import council_cli

    app.cli.add_command(council_cli)

    if app.config["PROXY_HOPS"]:
        # Behind a reverse proxy: trust its forwarded address and scheme, so rate
        # limits apply per visitor and HTTPS is recognised for HSTS.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

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
    if not app.config.get("SECRET_KEY"):
        if production:
            raise RuntimeError(
                "SECRET_KEY is not set. In production set COUNCIL_SECRET_KEY or put SECRET_KEY "
                "in instance/config.py; Council will not run with a made-up secret."
            )
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))
    if not app.config.get("PAYEE_DATA_KEY"):
        if production:
            raise RuntimeError(
                "PAYEE_DATA_KEY is not set. Payee details are encrypted with it: set COUNCIL_PAYEE_DATA_KEY "
                "to 32 random bytes in URL-safe base64 (python -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
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


def _development_secret(instance: Path, name: str = "secret_key", size: int = 48) -> str:
    """A random secret kept in instance/, made once per development checkout."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(size))
        path.chmod(0o600)
    return path.read_text().strip()

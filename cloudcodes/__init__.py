"""The CloudCodes Partner Portal: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

from cloudcodes.config import load_config

if TYPE_CHECKING:
    from babel import Locale

PACKAGE = Path(__file__).resolve().parent
# An installed wheel carries templates/, static/ and migrations/ inside the package (setup.py puts them
# there); a checkout keeps them at its top level (an editable install, or the app run from the folder).
INSTALLED = (PACKAGE / "templates").is_dir()
ROOT = PACKAGE if INSTALLED else PACKAGE.parent

# The locales whose formats a reader can choose with the browser's Accept-Language, as that header
# writes them (Babel writes en_US). Plain "en" is among them so that a browser asking for "en" (or
# "en-AU") gets the house style: werkzeug would otherwise match it to "en-US" by its primary tag.
HOUSE_STYLE = "en"
READER_LOCALES = (HOUSE_STYLE, "en-US", "en-GB", "de", "fr")


def default_instance_path() -> Path:
    """instance/ of the checkout; for an installed copy, instance/ in the working folder, never site-packages.

    CLOUDCODES_INSTANCE_PATH moves it (cloudcodes.config.load_config).
    """
    return (Path.cwd() if INSTALLED else ROOT) / "instance"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(default_instance_path().resolve()),
        instance_relative_config=True,
    )
    load_config(app, test_config)
    register_observability(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_locale(app)
    register_commands(app)
    register_subscribers()
    register_jobs(app)
    return app


def register_observability(app: Flask) -> None:
    from cloudcodes import observability

    observability.init_app(app)


def register_jobs(app: Flask) -> None:
    from cloudcodes import jobs

    jobs.init_app(app)


def register_extensions(app: Flask) -> None:
    from cloudcodes import models, security  # noqa: F401 - models registers every table with the metadata
    from cloudcodes.db import configure_postgresql, configure_sqlite
    from cloudcodes.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    security.register(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            configure_postgresql(db.engine)


def register_blueprints(app: Flask) -> None:
    from cloudcodes.admin import blueprint as admin
    from cloudcodes.api import blueprint as api
    from cloudcodes.applications.views import blueprint as applications
    from cloudcodes.auth.views import blueprint as auth
    from cloudcodes.billing.checkout_views import blueprint as checkout
    from cloudcodes.dashboard.views import blueprint as dashboard
    from cloudcodes.public.views import blueprint as public

    app.register_blueprint(public)
    app.register_blueprint(auth)
    app.register_blueprint(applications)
    app.register_blueprint(dashboard)
    app.register_blueprint(admin)
    app.register_blueprint(api)
    app.register_blueprint(checkout)
    if app.config["ENV"] in ("development", "test"):
        from cloudcodes.billing.payment_page_views import blueprint as test_payment

        app.register_blueprint(test_payment)  # plays the billing system; never in production


def register_errorhandlers(app: Flask) -> None:
    from cloudcodes.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from cloudcodes import clock, formatting
    from cloudcodes.program.services import program_terms

    formatting.register(app)
    app.jinja_env.globals["current_year"] = lambda: clock.today().year
    app.jinja_env.globals["now"] = clock.now
    app.jinja_env.globals["program_terms"] = program_terms


def select_locale() -> str | None:
    """Flask-Babel's locale selector: the reader's choice among READER_LOCALES, or None for the house style.

    The JSON API keeps fixed formats whatever its client's header says.
    """
    from flask import has_request_context, request

    if not has_request_context() or request.blueprint == "api":
        return None
    best = request.accept_languages.best_match(READER_LOCALES)
    return best.replace("-", "_") if best and best != HOUSE_STYLE else None


def reader_locale() -> Locale | None:
    """formatting's locale provider: the request's locale, None outside a request or for the house style."""
    from flask import g, has_request_context
    from flask_babel import get_locale

    from cloudcodes import formatting

    if not has_request_context():
        return None
    # Asked for by every amount and date on a page (80 times on the overview): worked out once a request.
    if "reader_locale" not in g:
        locale = get_locale()
        g.reader_locale = None if locale is None or locale == formatting.DEFAULT_LOCALE else locale
    return g.reader_locale


def register_locale(app: Flask) -> None:
    """Pages follow the reader's Accept-Language for their formats; e-mails, CSV and the API do not."""
    from cloudcodes import formatting

    formatting.set_locale_provider(reader_locale)
    app.jinja_env.globals["html_lang"] = formatting.html_lang

    @app.after_request
    def vary_by_language(response: Response) -> Response:
        # A page's formats depend on the header: shared caches must keep one copy per language.
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
        return response


def register_commands(app: Flask) -> None:
    from cloudcodes.auth.cli import users_cli
    from cloudcodes.billing.cli import checkouts_cli
    from cloudcodes.demo import demo_cli
    from cloudcodes.mail.cli import outbox_cli
    from cloudcodes.notices.cli import notices_cli
    from cloudcodes.partners.cli import payout_keys_cli
    from cloudcodes.qualification.cli import program_cli
    from cloudcodes.referrals.cli import domains_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(domains_cli)
    app.cli.add_command(program_cli)
    app.cli.add_command(checkouts_cli)
    app.cli.add_command(payout_keys_cli)
    app.cli.add_command(notices_cli)


def register_subscribers() -> None:
    """Modules that act on what other packages announce (their signals connect on import)."""
    from cloudcodes.auth import services as auth_services  # noqa: F401 - sends reset links as the outbox runs
    from cloudcodes.qualification import services  # noqa: F401 - upgrades partners after their purchases

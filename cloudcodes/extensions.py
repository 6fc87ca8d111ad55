"""Extensions, created unbound and attached to an app in create_app()."""

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from cloudcodes.db import Base


def client_address() -> str:
    """The client's address; behind a proxy, ProxyFix (CLOUDCODES_PROXY_HOPS) has already set it."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=client_address, headers_enabled=True, key_prefix="cloudcodes")
babel = Babel()

"""The yardstick: a minimal Flask + Flask-SQLAlchemy page of TechEmpower's "fortunes" shape.

One query of the 12 rows of ``bench_fortunes``, one row added in memory, sorted, rendered by Jinja
with autoescaping. Served by gunicorn exactly as the portal is, in the same run, so the HTTP
benchmark reports each endpoint as a ratio to it: only ratios hold on a shared machine.

    BENCH_FORTUNES_DATABASE_URL=postgresql+psycopg://... gunicorn bench.fortunes:app
"""

from __future__ import annotations

import os

from flask import Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

MESSAGES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]
TEMPLATE = """<!doctype html><html><head><title>Fortunes</title></head><body><table>
<tr><th>id</th><th>message</th></tr>
{% for id, message in fortunes %}<tr><td>{{ id }}</td><td>{{ message }}</td></tr>
{% endfor %}</table></body></html>"""

db = SQLAlchemy()


class Fortune(db.Model):
    __tablename__ = "bench_fortunes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


def create_app(database_url: str) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)

    @app.get("/fortunes")
    def fortunes() -> str:
        rows = [tuple(row) for row in db.session.execute(select(Fortune.id, Fortune.message))]
        rows.append((0, "Additional fortune added at request time."))
        rows.sort(key=lambda row: row[1])
        return render_template_string(TEMPLATE, fortunes=rows)

    return app


def create_table(app: Flask) -> None:
    """The table and its 12 rows (again from scratch)."""
    with app.app_context():
        Fortune.__table__.drop(db.engine, checkfirst=True)
        Fortune.__table__.create(db.engine)
        db.session.add_all(Fortune(id=n, message=message) for n, message in enumerate(MESSAGES, start=1))
        db.session.commit()
        db.engine.dispose()


app = create_app(os.environ["BENCH_FORTUNES_DATABASE_URL"]) if "BENCH_FORTUNES_DATABASE_URL" in os.environ else None

"""When an application's status link was last e-mailed; the country names of CLDR

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:30:00

``partner_applications.status_link_sent_at`` is new and nullable: a repeated application e-mails
the status link to the address on file at most once a day. Applications already there have none
(never sent again), so their next repeated application sends it once.

The application form's countries now come from CLDR (Babel) instead of a list of its own, which had
both Czechia and Czech Republic, Eswatini and Swaziland. The stored value is the country's name, so
the names of the old list that CLDR spells another way are rewritten to CLDR's, on applications and
on partners alike, so one country has one name. Two are left as they are: "Netherlands Antilles"
(dissolved in 2010, into three of today's entries) and "Congo" (which of the two it meant is unknown).
A downgrade keeps the new names: they are correct names too.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The old list's name -> CLDR's English name (Babel 2.19), for the names that differ.
RENAMED = {
    "Antigua and Barbuda": "Antigua & Barbuda",
    "Bosnia and Herzegovina": "Bosnia & Herzegovina",
    "Brunei Darussalam": "Brunei",
    "Cote d'Ivoire": "Côte d’Ivoire",
    "Czech Republic": "Czechia",
    "Falkland Islands (Malvinas)": "Falkland Islands",
    "French Southern Territories": "French Southern and Antarctic Lands",
    "Heard Island and McDonald Islands": "Heard Island & McDonald Islands",
    "Holy See (Vatican City)": "Vatican City",
    "Hong Kong": "Hong Kong SAR China",
    "Kyrgyz Republic": "Kyrgyzstan",
    "Macao": "Macao SAR China",
    "Myanmar": "Myanmar (Burma)",
    "Palestinian Territory": "Palestinian Territories",
    "Reunion": "Réunion",
    "Russian Federation": "Russia",
    "Saint Barthelemy": "St. Barthélemy",
    "Saint Helena": "St. Helena, Ascension & Tristan da Cunha",
    "Saint Kitts and Nevis": "St. Kitts & Nevis",
    "Saint Lucia": "St. Lucia",
    "Saint Martin": "St. Martin",
    "Saint Pierre and Miquelon": "St. Pierre & Miquelon",
    "Saint Vincent and the Grenadines": "St. Vincent & Grenadines",
    "Sao Tome and Principe": "São Tomé & Príncipe",
    "South Georgia and the South Sandwich Islands": "South Georgia & South Sandwich Islands",
    "Svalbard & Jan Mayen Islands": "Svalbard & Jan Mayen",
    "Swaziland": "Eswatini",
    "Trinidad and Tobago": "Trinidad & Tobago",
    "Turkey": "Türkiye",
    "Turks and Caicos Islands": "Turks & Caicos Islands",
    "United States Minor Outlying Islands": "U.S. Outlying Islands",
    "United States Virgin Islands": "U.S. Virgin Islands",
    "United States of America": "United States",
    "Wallis and Futuna": "Wallis & Futuna",
}


def upgrade():
    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_link_sent_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))
    for name in ("partner_applications", "partners"):
        table = sa.table(name, sa.column("country", sa.String))
        for old, new in RENAMED.items():
            op.execute(table.update().where(table.c.country == old).values(country=new))


def downgrade():
    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.drop_column("status_link_sent_at")

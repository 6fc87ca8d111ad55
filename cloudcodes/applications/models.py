"""Applications to join the program, and the conversation between applicant and reviewer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.applications.rules import HEARD_FROM_OPTIONS
from cloudcodes.applications.states import State
from cloudcodes.auth.models import User
from cloudcodes.db import enum_column, money_column, search_column
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.program.terms import Level

OPEN_STATES_SQL = "state IN ('submitted', 'in_review', 'waiting_on_applicant')"


class AuthorKind(StrEnum):
    """Who wrote a message of an application's conversation."""

    STAFF = "staff"  # the reviewer
    APPLICANT = "applicant"


class PartnerApplication(db.Model):
    __tablename__ = "partner_applications"
    __search_fields__ = ("company_name", "contact_name", "contact_email")
    __table_args__ = (
        CheckConstraint("sales_team_size >= 0 AND technical_team_size >= 0", name="team_sizes_not_negative"),
        CheckConstraint("expected_customers >= 0", name="expected_customers_not_negative"),
        # One open application per company and per contact address: enforced here, not in Python.
        Index(
            "uq_partner_applications_open_company",
            "company_key",
            unique=True,
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index(
            "uq_partner_applications_open_email",
            "contact_email",
            unique=True,
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index("ix_partner_applications_state_submitted", "state", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level_requested: Mapped[Level] = enum_column(Level, name="known_level", length=20)
    state: Mapped[State] = enum_column(State, name="known_state", length=30, default=State.SUBMITTED)
    # A random value in the status link's signed token: changing it would revoke old links.
    status_nonce: Mapped[str] = mapped_column(String(32))

    company_name: Mapped[str] = mapped_column(String(200))
    company_key: Mapped[str] = mapped_column(String(200))  # the name folded for duplicate checks
    search_text: Mapped[str] = search_column()
    website: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(80))
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str] = mapped_column(String(40))
    is_workspace_reseller: Mapped[bool]
    workspace_reseller_id: Mapped[str] = mapped_column(String(200))
    sales_team_size: Mapped[int]
    technical_team_size: Mapped[int]
    expected_customers: Mapped[int]
    heard_from: Mapped[str] = mapped_column(String(200))

    # Premier only.
    committed_revenue: Mapped[Money | None] = money_column("committed_revenue", nullable=True)
    trained_sales_staff: Mapped[int | None]
    agrees_to_business_plan: Mapped[bool | None]
    product_page_url: Mapped[str | None] = mapped_column(String(300))
    marketing_campaign: Mapped[str | None] = mapped_column(Text)

    submitted_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    decided_at: Mapped[datetime | None]
    assigned_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_level: Mapped[Level | None] = enum_column(Level, name="known_approved_level", length=20)
    decision_note: Mapped[str | None] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(45))
    # When the status link was last e-mailed (with the confirmation, or again on a repeated application):
    # it is sent again at most once a day, so repeated tries cannot flood the applicant's mailbox.
    status_link_sent_at: Mapped[datetime | None]

    assigned_manager: Mapped[User | None] = relationship(foreign_keys=[assigned_manager_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    messages: Mapped[list[ApplicationMessage]] = relationship(
        back_populates="application", order_by="ApplicationMessage.id", cascade="all, delete-orphan"
    )

    @property
    def state_enum(self) -> State:
        """The same as ``state`` (a ``State`` since the column became an enum); kept for the templates."""
        return self.state

    @property
    def heard_from_label(self) -> str:
        return HEARD_FROM_OPTIONS.get(self.heard_from, self.heard_from)

    @property
    def reference(self) -> str:
        return f"APP-{self.id:06d}"


class ApplicationMessage(db.Model):
    """A reviewer's question or the applicant's answer."""

    __tablename__ = "application_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("partner_applications.id", ondelete="CASCADE"), index=True)
    author_kind: Mapped[AuthorKind] = enum_column(AuthorKind, name="known_author_kind", length=20)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    application: Mapped[PartnerApplication] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()

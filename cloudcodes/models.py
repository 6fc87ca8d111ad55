"""Every feature's models, imported in one place so the metadata (and Alembic) sees them all."""

from cloudcodes.applications.models import ApplicationMessage, PartnerApplication
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import PasswordResetToken, RecoveryCode, User
from cloudcodes.billing import totals  # noqa: F401 - keeps the partners' monthly totals as rows are flushed
from cloudcodes.billing.models import LedgerEntry, PartnerMonthTotals, PayoutStatement, Product, Purchase, Refund
from cloudcodes.jobs.models import JobRun
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.notices.models import Notice, NoticePreference
from cloudcodes.partners.console_models import EmailChange, PartnerNote
from cloudcodes.partners.models import (
    Partner,
    PartnerLevel,
    PartnerMembership,
    PartnerPayoutDetails,
    PartnerRequirement,
)
from cloudcodes.program.models import ProgramSettings, VolumeDiscountTier
from cloudcodes.public.models import FaqEntry
from cloudcodes.referrals.models import DomainRegistration, ReferralCode, RegistrationClaim

__all__ = [
    "ApplicationMessage",
    "AuditEvent",
    "DomainRegistration",
    "EmailChange",
    "FaqEntry",
    "JobRun",
    "LedgerEntry",
    "Notice",
    "NoticePreference",
    "OutboxMessage",
    "Partner",
    "PartnerApplication",
    "PartnerLevel",
    "PartnerMembership",
    "PartnerMonthTotals",
    "PartnerNote",
    "PartnerPayoutDetails",
    "PartnerRequirement",
    "PasswordResetToken",
    "PayoutStatement",
    "Product",
    "ProgramSettings",
    "Purchase",
    "RecoveryCode",
    "ReferralCode",
    "Refund",
    "RegistrationClaim",
    "User",
    "VolumeDiscountTier",
]

"""Every feature's models, imported in one place so the metadata (and Alembic) sees them all."""

from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import PasswordResetToken, RecoveryCode, User
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.program.models import ProgramSettings, VolumeDiscountTier
from cloudcodes.public.models import FaqEntry

__all__ = [
    "AuditEvent",
    "FaqEntry",
    "OutboxMessage",
    "PasswordResetToken",
    "ProgramSettings",
    "RecoveryCode",
    "User",
    "VolumeDiscountTier",
]

"""Every feature's models, imported in one place so the metadata (and Alembic) sees them all."""

from cloudcodes.program.models import ProgramSettings, VolumeDiscountTier
from cloudcodes.public.models import FaqEntry

__all__ = ["FaqEntry", "ProgramSettings", "VolumeDiscountTier"]

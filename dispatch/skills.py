"""The standard skills every organisation starts with.

Migration 0002 loads a frozen copy of this list; this module is what code uses at run time,
so a database that lost the rows (a flushed test database, a careless admin) gets them back.
"""
from __future__ import annotations

from dispatch.models import Skill

STANDARD_SKILLS = [
    ("palliative", "Palliative care"),
    ("oncology", "Oncology massage"),
    ("mld", "Manual lymphatic drainage"),
    ("reflexology", "Reflexology"),
    ("acupressure", "Acupressure"),
    ("clinical", "Clinical / medical massage"),
    ("geriatric", "Geriatric massage"),
    ("pediatric", "Paediatric massage"),
    ("prenatal", "Prenatal massage"),
    ("hospital-based", "Hospital-based massage"),
]


def skill_ensure_standard() -> dict[str, Skill]:
    """The standard skills by code, creating any that are missing."""
    existing = {s.code: s for s in Skill.objects.filter(code__in=[c for c, _ in STANDARD_SKILLS])}
    missing = [Skill(code=c, name=n) for c, n in STANDARD_SKILLS if c not in existing]
    if missing:
        Skill.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {s.code: s for s in Skill.objects.filter(code__in=[c for c, _ in STANDARD_SKILLS])}
    return existing

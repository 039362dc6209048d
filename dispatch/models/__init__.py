from dispatch.models.access import FeedToken, IdempotencyKey
from dispatch.models.facilities import DEFAULT_BUFFER_MIN, CareSetting, Facility, FacilityKind
from dispatch.models.geo import GeocodeCache
from dispatch.models.notifications import (
    Channel,
    Notification,
    NotificationPreference,
    SendStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from dispatch.models.organization import Organization, Role, User
from dispatch.models.patients import (
    Contraindication,
    ContraindicationKind,
    Patient,
    Precaution,
    PrecautionKind,
)
from dispatch.models.plans import PlanKind, PlanRun, PlanStatus
from dispatch.models.skills import CredentialType, Skill
from dispatch.models.therapists import (
    SPEED_KMH,
    AvailabilityException,
    ExceptionKind,
    Gender,
    SpeedProfile,
    Therapist,
    TherapistBreak,
    TherapistCredential,
    WeeklyAvailability,
    Weekday,
)
from dispatch.models.visits import (
    ASSIGNED_STATUSES,
    FIXED_STATUSES,
    MAX_DURATION_MIN,
    MIN_DURATION_MIN,
    OPEN_STATUSES,
    Priority,
    Visit,
    VisitSeries,
    VisitStatus,
    VisitWindow,
)

__all__ = [
    "ASSIGNED_STATUSES", "AvailabilityException", "CareSetting", "Channel", "Contraindication",
    "ContraindicationKind", "CredentialType", "DEFAULT_BUFFER_MIN", "ExceptionKind", "FIXED_STATUSES", "Facility",
    "FacilityKind", "FeedToken", "Gender", "GeocodeCache", "IdempotencyKey", "MAX_DURATION_MIN", "MIN_DURATION_MIN",
    "Notification", "NotificationPreference", "OPEN_STATUSES", "Organization", "Patient", "PlanKind", "PlanRun",
    "PlanStatus", "Precaution", "PrecautionKind", "Priority", "Role", "SPEED_KMH", "SendStatus", "Skill",
    "SpeedProfile", "Therapist", "TherapistBreak", "TherapistCredential", "User", "Visit", "VisitSeries",
    "VisitStatus", "VisitWindow", "WebhookDelivery", "WebhookEvent", "WebhookSubscription", "Weekday",
    "WeeklyAvailability",
]

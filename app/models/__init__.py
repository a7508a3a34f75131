"""Every model, imported once so that the metadata (and Alembic) sees them all."""
from app.models.intake import IntakeDelivery, IntakeSource
from app.models.jobs import Category, Complaint, Feedback, FeedbackLink, Job
from app.models.knowledge import (
    CasePhoto,
    ComplianceEvent,
    KnowledgeItem,
    KnowledgeTag,
    Training,
    TrainingAttendee,
)
from app.models.performance import (
    Alert,
    KpiCard,
    KpiFigures,
    KpiMonthVersions,
    KpiPeriod,
    KpiScheme,
    KpiStoreState,
    Review,
    ReviewActionItem,
    Setting,
)
from app.models.records import AuditEntry, IdempotencyRecord
from app.models.sites import Site
from app.models.users import ApiToken, SignInFailure, User, UserSession
from app.models.visits import Photo, Visit

__all__ = [
    "Alert", "ApiToken", "AuditEntry", "CasePhoto", "Category", "Complaint", "ComplianceEvent",
    "Feedback", "FeedbackLink", "IdempotencyRecord", "IntakeDelivery", "IntakeSource", "Job",
    "KnowledgeItem", "KnowledgeTag",
    "KpiCard", "KpiFigures", "KpiMonthVersions", "KpiPeriod", "KpiScheme", "KpiStoreState", "Photo", "Review", "ReviewActionItem", "Setting",
    "SignInFailure", "Site", "Training", "TrainingAttendee", "User", "UserSession", "Visit",
]

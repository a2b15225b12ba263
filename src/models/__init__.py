"""One registry of SQLAlchemy models; alembic's env.py imports it for autogenerate."""

from src.core.db import Base
from src.models.area import Area, AreaLevel
from src.models.decision_cache import DecisionCache
from src.models.event import (
    Ballot,
    BallotVoter,
    Event,
    EventCheckIn,
    EventKind,
    EventOption,
    EventStatus,
    PaperCount,
)
from src.models.export import ExportRecord, ExportStatus
from src.models.facility import Facility, FacilityCategory, FacilityDataState, WalkEdge, WalkNode
from src.models.facility_review import FacilityReview
from src.models.job_run import JobRun
from src.models.monthly_report import MonthlyReport, ReportReminder
from src.models.portal import PortalInboundEvent, PortalWebhookNonce
from src.models.project import Project, ProjectProgress, ProjectProgressPhoto, ProjectStatus
from src.models.proposal import (
    Notification,
    NotificationKind,
    Proposal,
    ProposalCategory,
    ProposalPhoto,
    ProposalReply,
    ProposalStatus,
    ProposalSupport,
    ProposalTransition,
)
from src.models.rating import (
    Rating,
    RatingCriterion,
    RatingPaperEntry,
    RatingPhoto,
    RatingProjectScore,
    RatingProposal,
    RatingRevision,
    RatingRollup,
    RatingTally,
)
from src.models.system import AuditEntry, IdempotencyKey, OutboxItem
from src.models.upload import Upload
from src.models.user import AuthFamily, RefreshToken, Role, RoleGrant, User

__all__ = [
    "Area",
    "AreaLevel",
    "AuditEntry",
    "AuthFamily",
    "Ballot",
    "BallotVoter",
    "Base",
    "DecisionCache",
    "Event",
    "EventCheckIn",
    "EventKind",
    "EventOption",
    "EventStatus",
    "ExportRecord",
    "ExportStatus",
    "Facility",
    "FacilityCategory",
    "FacilityDataState",
    "FacilityReview",
    "IdempotencyKey",
    "JobRun",
    "MonthlyReport",
    "Notification",
    "NotificationKind",
    "OutboxItem",
    "PaperCount",
    "PortalInboundEvent",
    "PortalWebhookNonce",
    "Project",
    "ProjectProgress",
    "ProjectProgressPhoto",
    "ProjectStatus",
    "Proposal",
    "ProposalCategory",
    "ProposalPhoto",
    "ProposalReply",
    "ProposalStatus",
    "ProposalSupport",
    "ProposalTransition",
    "Rating",
    "RatingCriterion",
    "RatingPaperEntry",
    "RatingPhoto",
    "RatingProjectScore",
    "RatingProposal",
    "RatingRevision",
    "RatingRollup",
    "RatingTally",
    "RefreshToken",
    "ReportReminder",
    "Role",
    "RoleGrant",
    "Upload",
    "User",
    "WalkEdge",
    "WalkNode",
]

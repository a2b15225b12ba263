"""One registry of SQLAlchemy models; alembic's env.py imports it for autogenerate."""

from src.core.db import Base
from src.models.area import Area, AreaLevel
from src.models.decision_cache import DecisionCache
from src.models.event import (
    Ballot,
    BallotVoter,
    Event,
    EventCheckIn,
    EventDisplayLink,
    EventKind,
    EventOption,
    EventStatus,
    PaperCount,
    SealedBallot,
)
from src.models.export import ExportRecord, ExportStatus
from src.models.facility import Facility, FacilityCategory, FacilityDataState, WalkEdge, WalkNode
from src.models.facility_review import FacilityReview
from src.models.job_run import JobRun
from src.models.moderation import ItemSource, ItemStatus, ModerationItem, ProposalReport
from src.models.monthly_report import MonthlyReport, ReportReminder
from src.models.need import EvidenceKind, Need, NeedEvidence, NeedStatus, ProjectNeed
from src.models.portal import PortalInboundEvent, PortalWebhookNonce
from src.models.project import (
    Project,
    ProjectKind,
    ProjectProgress,
    ProjectProgressPhoto,
    ProjectStatus,
)
from src.models.proposal import (
    Notification,
    NotificationKind,
    Proposal,
    ProposalCategory,
    ProposalPhoto,
    ProposalReaction,
    ProposalReferenceCounter,
    ProposalReply,
    ProposalSimilarForm,
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
from src.models.subscription import SubscribeKind, WeChatSubscription
from src.models.survey import (
    Survey,
    SurveyAnswerItem,
    SurveyOption,
    SurveyQuestion,
    SurveyRespondent,
    SurveyResponse,
    SurveyTally,
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
    "EventDisplayLink",
    "EventKind",
    "EventOption",
    "EventStatus",
    "EvidenceKind",
    "ExportRecord",
    "ExportStatus",
    "Facility",
    "FacilityCategory",
    "FacilityDataState",
    "FacilityReview",
    "IdempotencyKey",
    "ItemSource",
    "ItemStatus",
    "JobRun",
    "ModerationItem",
    "MonthlyReport",
    "Need",
    "NeedEvidence",
    "NeedStatus",
    "Notification",
    "NotificationKind",
    "OutboxItem",
    "PaperCount",
    "PortalInboundEvent",
    "PortalWebhookNonce",
    "Project",
    "ProjectKind",
    "ProjectNeed",
    "ProjectProgress",
    "ProjectProgressPhoto",
    "ProjectStatus",
    "Proposal",
    "ProposalCategory",
    "ProposalPhoto",
    "ProposalReaction",
    "ProposalReferenceCounter",
    "ProposalReply",
    "ProposalReport",
    "ProposalSimilarForm",
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
    "SealedBallot",
    "SubscribeKind",
    "Survey",
    "SurveyAnswerItem",
    "SurveyOption",
    "SurveyQuestion",
    "SurveyRespondent",
    "SurveyResponse",
    "SurveyTally",
    "Upload",
    "User",
    "WalkEdge",
    "WalkNode",
    "WeChatSubscription",
]

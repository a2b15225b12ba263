"""One registry of SQLAlchemy models; alembic's env.py imports it for autogenerate."""

from src.core.db import Base
from src.models.area import Area, AreaLevel
from src.models.system import AuditEntry, IdempotencyKey, OutboxItem
from src.models.user import AuthFamily, RefreshToken, Role, RoleGrant, User

__all__ = [
    "Area",
    "AreaLevel",
    "AuditEntry",
    "AuthFamily",
    "Base",
    "IdempotencyKey",
    "OutboxItem",
    "RefreshToken",
    "Role",
    "RoleGrant",
    "User",
]

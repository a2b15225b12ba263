"""Names of the app-wide dependencies, marked explicitly as Litestar asks.

Handlers declare ``db_session: DbSession``, ``principal: CurrentUser`` or
``maybe_principal: MaybeUser`` or ``unit: Unit``; the parameter name picks the dependency.
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.unit_of_work import UnitOfWork

DbSession: TypeAlias = NamedDependency[AsyncSession]
CurrentUser: TypeAlias = NamedDependency[Principal]
MaybeUser: TypeAlias = NamedDependency[Principal | None]
Unit: TypeAlias = NamedDependency[UnitOfWork]

"""Staff actions, kept so coordinators can see who did what. Never advisors' participation.

Audit sits below accounts (accounts records its staff actions here), so the people are named by the
table and class name, "users" and "User", rather than by importing them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.db_types import new_uuid
from council.extensions import Model

if TYPE_CHECKING:
    from council.accounts.models import User


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: A fixed event name such as ``invitation.created``; see ``service.ACTIONS``.
    action: Mapped[str] = mapped_column(String(40))
    subject_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: A short, non-sensitive detail: a role name, an invitation label.
    detail: Mapped[str] = mapped_column(String(200), default="")

    actor: Mapped[User | None] = relationship("User", foreign_keys=[actor_id], lazy="joined")
    subject: Mapped[User | None] = relationship("User", foreign_keys=[subject_user_id], lazy="joined")

"""Recording and listing staff actions."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.audit.models import AuditEvent
from council.db_types import utcnow


class Person(Protocol):
    """Whoever acted or was acted on: an account (audit sits below accounts, so it needs only the id)."""

    id: uuid.UUID


ACTIONS = {
    "coordinator.created",
    "invitation.created",
    "invitation.revoked",
    "invitation.used",
    "roles.changed",
    "account.deactivated",
    "account.reactivated",
    "account.closed",
    "comment.hidden",
    "proposal.applied",
    "comment.restored",
    "review.closed_early",
    "meeting_points.recorded",
    "stipend.rate_set",
    "stipend.approved",
    "stipend.paid",
    "stipend.adjusted",
    "stipend.limit_set",
    "payee.viewed",
    "payee.saved",
    "meeting.planned",
    "meeting.cancelled",
    "mail.settings_changed",
    "access.refused",
    "second_factor.added",
    "second_factor.removed",
    "second_factor.requirement_changed",
}


def record(
    session: Session, actor: Person | None, action: str, *, subject: Person | None = None, detail: str = ""
) -> AuditEvent:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        action=action,
        subject_user_id=subject.id if subject else None,
        detail=detail[:200],
    )
    session.add(event)
    return event


def page_of_events(session: Session, page: int, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return latest_events(session, per_page, skip=(page - 1) * per_page), total


def latest_events(session: Session, how_many: int, *, skip: int = 0) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id).limit(how_many).offset(skip)
        ).all()
    )

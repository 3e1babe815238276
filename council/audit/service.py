"""Recording and listing staff actions."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Select, bindparam, func, select
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


def page_of_events(session: Session, page: int, per_page: int = 50) -> tuple[list[ShownEvent], int]:
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return latest_events(session, per_page, skip=(page - 1) * per_page), total


@dataclass(frozen=True)
class ShownEvent:
    """An event as the audit trail and the coordinator's home show it: who by name, not their account."""

    occurred_at: datetime
    #: The actor's pseudonym; None: the system acted.
    actor: str | None
    action: str
    #: The pseudonym of the person acted on, if any.
    subject: str | None
    detail: str


def latest_events(session: Session, how_many: int, *, skip: int = 0) -> list[ShownEvent]:
    """The newest events first, as plain rows: a coordinator's home shows the latest on every view, and loading
    them with their two people as mapped objects had cost a tenth of it."""
    rows = session.connection().execute(_latest_events_statement(), {"how_many": how_many, "skip": skip})
    return [ShownEvent(*row) for row in rows]


@functools.cache
def _latest_events_statement() -> Select[datetime, str, str, str, str]:
    events = AuditEvent.__table__.c
    # Audit sits below accounts: the people's table is reached through the event's relationship, not imported.
    people = AuditEvent.actor.property.mapper.local_table
    actor, subject = people.alias("actor"), people.alias("subject")
    return (
        select(events.occurred_at, actor.c.pseudonym, events.action, subject.c.pseudonym, events.detail)
        .select_from(
            AuditEvent.__table__.outerjoin(actor, actor.c.id == events.actor_id).outerjoin(
                subject, subject.c.id == events.subject_user_id
            )
        )
        .order_by(events.occurred_at.desc(), events.id)
        .limit(bindparam("how_many"))
        .offset(bindparam("skip"))
    )

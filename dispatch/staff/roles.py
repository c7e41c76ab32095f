"""Who may do what: the one place that answers it, for pages, API routes and commands alike.

Roles: an **owner** does everything and manages staff and settings; an **editor** runs the
dissemination (content, editions, subscribers, social: prepare, schedule, send, approve); an
**author** prepares drafts and social posts but never sends or approves; a **viewer** reads.
An API token narrows its owner's role to its scope (`Actor.scope`): a read token only reads.
"""

from __future__ import annotations

import enum

from dispatch.audit import Actor, Via
from dispatch.staff.models import StaffUser


class Permission(enum.StrEnum):
    READ = "read"  # every page and GET of the API, the audit trail included
    CONTENT = "content.write"  # sources, topics, items and picks
    DRAFT = "editions.prepare"  # create and edit drafts, preview, test-send to oneself
    SEND = "editions.send"  # schedule, send, pause, resume, cancel
    SUBSCRIBERS = "subscribers.write"  # add, import, change, export, erase
    SOCIAL_PREPARE = "social.prepare"  # write and edit social posts
    SOCIAL_APPROVE = "social.approve"  # approve, schedule, publish, cancel; accounts
    BOUNCES = "bounces.review"  # apply or discard held bounce reports
    STAFF = "staff.manage"  # accounts, roles, sessions of others; settings


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "owner": frozenset(Permission),
    "editor": frozenset(Permission) - {Permission.STAFF},
    "author": frozenset({Permission.READ, Permission.DRAFT, Permission.SOCIAL_PREPARE}),
    "viewer": frozenset({Permission.READ}),
}
#: What a read-scoped API token keeps of its owner's role.
READ_SCOPE = frozenset({Permission.READ})


class ForbiddenError(Exception):
    """The actor may not do this; the message says what they lack."""

    def __init__(self, actor: Actor, permission: Permission) -> None:
        self.actor = actor
        self.permission = permission
        role = actor.role or actor.kind
        super().__init__(f"{actor.label} ({role}) may not do this: it needs {permission.value}")


def permissions_of(actor: Actor) -> frozenset[Permission]:
    """Everything `actor` may do; the command-line operator and the system may do all."""
    if actor.kind in ("operator", "system"):
        granted = frozenset(Permission)
    else:
        granted = ROLE_PERMISSIONS.get(actor.role or "", frozenset())
    if actor.scope == "read":
        granted &= READ_SCOPE
    return granted


def may(actor: Actor, permission: Permission) -> bool:
    return permission in permissions_of(actor)


def require(actor: Actor, permission: Permission) -> None:
    """Raise `ForbiddenError` unless `actor` may do what `permission` names."""
    if not may(actor, permission):
        raise ForbiddenError(actor, permission)


def actor_for(
    user: StaffUser, *, via: Via, ip: str | None = None, scope: str | None = None
) -> Actor:
    """The actor a staff member is when they act through the web, the API or a command."""
    return Actor("staff", user.email, via, staff_id=user.id, role=user.role, ip=ip, scope=scope)

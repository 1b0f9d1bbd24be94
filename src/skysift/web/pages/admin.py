"""Admin pages (admin flag only): the users, with a switch for the power-user API class."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skysift.web.forms import parse_int, read_form
from skysift.web.httperrors import NotFound
from skysift.web.sessions import require_admin
from skysift.web.templating import flash, render
from skysift.store.schema import filters, users
from skysift.annotations.store import list_annotators
from skysift.accounts import get_user
from skysift.annotations.store import add_annotator

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    """Every user: id, name, email, flags, filters, when they joined (never tokens)."""
    require_admin(request)

    n_filters = (sa.select(sa.func.count()).select_from(filters)
                 .where(filters.c.user_id == users.c.id).scalar_subquery())
    q = sa.select(users.c.id, users.c.name, users.c.email, users.c.is_admin, users.c.is_power,
                  users.c.created, (users.c.password_hash.is_not(None)).label("has_password"),
                  n_filters.label("filters")).order_by(users.c.id)
    with request.app.state.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return render(request, "admin_users.html", rows=rows)


@router.post("/admin/users/{uid}/power")
async def toggle_power(request: Request, uid: str) -> Response:
    """Switch a user's power-user flag (the higher API rate class)."""
    admin = require_admin(request)
    form = await read_form(request)
    user_id = parse_int(uid, "user id", lo=1, hi=2**31 - 1)
    on = form.flag("power")

    with request.app.state.engine.begin() as conn:
        done = conn.execute(users.update().where(users.c.id == user_id).values(is_power=on))
    if done.rowcount == 0:
        raise NotFound("no such user")
    log.info("admin %d set power=%s for user %d", admin.id, on, user_id)
    flash(request, f"User {user_id} is {'now' if on else 'no longer'} a power user.")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/annotators")
def annotators_page(request: Request) -> Response:
    """Every annotator (topic, owner, flags) and a form to register one."""
    require_admin(request)

    with request.app.state.engine.connect() as conn:
        rows = list_annotators(conn)
    return render(request, "admin_annotators.html", rows=rows)


@router.post("/admin/annotators")
async def add_annotator_form(request: Request) -> Response:
    """Register an annotator: topic (an SQL name), owner, description, URL, public."""
    admin = require_admin(request)
    form = await read_form(request)
    topic = form.text("topic", max_len=63, required=True)
    owner = form.text("owner", max_len=150, required=True)

    with request.app.state.engine.begin() as conn:
        user = get_user(conn, owner)
        add_annotator(conn, topic, user.id, description=form.text("description", max_len=4096),
                      url=form.text("url", max_len=1024), public=form.flag("public"))
    log.info("admin %d registered annotator %s for user %d", admin.id, topic, user.id)
    flash(request, f"Annotator {topic} registered for {user.name}.")
    return RedirectResponse("/admin/annotators", status_code=303)

"""``/api/auth-token/``: a user name and password in, an API token out (Lasair's route).

The store keeps only a hash of each token, so it cannot hand back one in use: every call makes
a **new** token, named "auth-token", and the user's other tokens keep working (a script that
fetches a token at start-up logs nobody out). A user holds at most 20 tokens: beyond that the
least recently used is revoked. The profile page and ``skysift user token`` list and revoke them.
Passwords are checked with :func:`skysift.web.passwords.verify_password`; users made with
``skysift user add`` have no password until they set one on the web site. Calls are limited per
client address with the default rate (no token is needed, so this is what slows guessing).
"""

from __future__ import annotations

from fastapi import Request, Response

from skysift.web.throttles import client_address, login_allowed, login_failed, throttle
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput
from skysift.accounts import new_token
from skysift.store.schema import users
from skysift.web.passwords import verify_password

__all__ = ["router"]

router = api_router()
BAD_LOGIN = "Unable to log in with provided credentials."
SPECS = (("username", "string", "your user name", True),
         ("password", "string", "your password", True))


@router.post("/auth-token/", summary="Get a new API token with your user name and password",
             openapi_extra=openapi_params(*SPECS, body=True))
def auth_token(request: Request, p: ApiParams, settings: SettingsDep, engine: Engine) -> Response:
    """``{"token": "..."}``: a new token for the user (their other tokens keep working)."""
    import sqlalchemy as sa


    throttle(request, f"auth-token:{client_address(request)}", settings.api_rate_limit,
             settings.api_rate_window_s)
    name = p.text("username", max_len=150)
    password = p.text("password", max_len=1024)
    login_allowed(request, settings, name)
    with engine.begin() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.password_hash)
                           .where(sa.func.lower(users.c.name) == name.lower())).first()
        # verify even for an unknown name: the dummy hash keeps the timing the same
        ok = verify_password(row.password_hash if row is not None else None, password)
        if row is None or not ok:
            login_failed(request, settings, name)
            raise BadInput(BAD_LOGIN)
        token = new_token(conn, int(row.id), name="auth-token")
    return ApiJSONResponse({"token": token})

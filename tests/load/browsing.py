"""What a load test's visitors read from Council's pages and how they sign in.

Plain ``requests`` sessions and Locust's clients both work here; nothing imports Locust, whose
import patches the standard library for gevent.
"""

from __future__ import annotations

import re

_INPUT = re.compile(r"<input\b[^>]*>")
_VALUE = re.compile(r'\svalue="([^"]*)"')


def hidden_value(html: str, name: str) -> str:
    """The value of the first input named ``name`` on a page (the CSRF token, a form's submission key),
    whatever the order of its attributes."""
    named = f'name="{name}"'
    for tag in _INPUT.findall(html):
        if named in tag and (value := _VALUE.search(tag)):
            return value.group(1)
    raise LookupError(f"no input {name!r} on the page")


def csrf_token(html: str) -> str:
    return hidden_value(html, "csrf_token")


def _label(client, name: str) -> dict:
    # Locust's clients take a request name for their statistics; requests' sessions do not.
    return {"name": name} if hasattr(client, "request_event") else {}


def sign_in(client, base: str, login_name: str, password: str):
    """Fetch the sign-in form on ``base`` and post it; returns the answer to the post (303 when signed in)."""
    page = client.get(f"{base}/login", **_label(client, "sign-in page"))
    return client.post(
        f"{base}/login",
        allow_redirects=False,
        **_label(client, "sign in"),
        data={"csrf_token": csrf_token(page.text), "login_name": login_name, "password": password},
    )

"""The pages advisors, authors and coordinators use daily (issue 19), found in the demo data.

``make bench`` loads them under wrk beside a reference page and counts the queries each makes;
both read the list here, so a page added to it is measured both ways.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from tests.load.run import load_app

#: The demo login each kind of visitor signs in with (None: signed out).
VISITORS = {"signed out": None, "advisor": "advisor1", "author": "author", "coordinator": "coordinator"}
DEMO_LOG_N = 12


@dataclass(frozen=True)
class MainPage:
    label: str
    visitor: str  # a key of VISITORS
    path: str


@dataclass(frozen=True)
class DemoSite:
    """A SQLite database holding the demo, and where its main pages are."""

    url: str
    password: str  # of every demo login
    policy_id: str  # the demo policy whose second revision is under review
    pages: list[MainPage]


def create_demo_site(work: Path) -> DemoSite:
    """Migrate a new SQLite database in ``work`` and load the demo data (``flask council demo``) into it."""
    from flask_migrate import upgrade

    from council.demo import load_demo
    from council.extensions import db

    url = f"sqlite:///{work / 'council.db'}"
    password = secrets.token_urlsafe(12)
    # Passwords at a lower cost than production's: the demo is loaded and its people sign in faster, and
    # the pages measured never derive a key.
    app = load_app(url, work, SCRYPT_LOG_N=DEMO_LOG_N)
    with app.app_context():
        upgrade()
        load_demo(password)
        policy_id, pages = _main_pages()
        db.engine.dispose()
    return DemoSite(url=url, password=password, policy_id=policy_id, pages=pages)


def _main_pages() -> tuple[str, list[MainPage]]:
    from council import demo_content
    from council.extensions import db
    from council.policies.models import Policy
    from council.voting.models import Poll, PollState

    policy = db.session.scalars(select(Policy).where(Policy.title == demo_content.POLICY_TITLE)).one()
    revision = policy.current
    assert revision is not None, "the demo policy has a published revision"
    # The section the open round commented on most, and the first open poll.
    position = Counter(comment[1] for comment in demo_content.OPEN_ROUND_COMMENTS).most_common(1)[0][0]
    question = next(spec["question"] for spec in demo_content.POLLS if not spec["closed"])
    poll = db.session.scalars(
        select(Poll).where(Poll.revision_id == revision.id, Poll.question == question, Poll.state == PollState.OPEN)
    ).one()
    base = f"/policies/{policy.id}/revisions/{revision.number}"
    easy = min(demo_content.EASY_READ_REVISION_2["en"])
    pages = [
        MainPage("sign-in (signed out)", "signed out", "/login"),
        MainPage("advisor home", "advisor", "/"),
        MainPage("policy list", "advisor", "/policies/"),
        MainPage("revision", "advisor", base),
        MainPage("section", "advisor", f"{base}/sections/{revision.sections[position].key}"),
        # A section with its Easy Read version shown (issue 23): found by the same one reading query.
        MainPage("section in Easy Read", "advisor", f"{base}/sections/{revision.sections[easy].key}?read=easy_read"),
        MainPage("history", "advisor", f"/policies/{policy.id}/history"),
        MainPage("my comments", "advisor", "/feedback/mine"),
        MainPage("stipends", "advisor", "/stipends"),
        MainPage("notices", "advisor", "/notices"),
        MainPage("author home", "author", "/"),
        MainPage("staff comment list", "author", f"{base}/comments"),
        MainPage("poll", "advisor", f"/polls/{poll.id}"),
        MainPage("coordinator home", "coordinator", "/"),
        # Not a daily page: the safety page is fixed text, so its row is what every signed-in page pays before
        # its own work (opening the session, the header and footer, ending the transaction): the floor the
        # ratios above stand on.
        MainPage("shell: safety page", "advisor", "/safety"),
    ]
    return str(policy.id), pages

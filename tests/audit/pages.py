"""The main pages, as each kind of visitor sees them: found by following links from the home page.

Each visitor (signed out, advisor, author, moderator, coordinator) signs in with ``requests``
and walks the links of the site breadth-first, keeping at most ``PER_ENDPOINT`` pages of each
view so that, say, forty section pages do not crowd out the rest. Pages that change something
when fetched (the quick exit) and downloads (CSV, PDF) are not visited. The pages the audit
must reach are listed in ``REQUIRED``; one that was not reached is reported, so a renamed link
cannot quietly shrink the audit.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

#: Visitors and the demo login each one uses (None: signed out).
VISITORS = {
    "signed out": None,
    "advisor": "advisor1",
    "author": "author",
    "moderator": "moderator",
    "coordinator": "coordinator",
}

#: Views never fetched: they end the session or send a file, not a page.
SKIPPED_ENDPOINTS = {
    "static",
    "pages.quick_exit",
    "compensation.export",
    "compensation.statement_csv",
    "summaries.summary_csv",
    "summaries.summary_pdf",
}

#: Pages kept per view and visitor (different arguments: two sections, two polls, …).
PER_ENDPOINT = 2
#: A bound on each visitor's walk, whatever the site grows into.
MAX_PAGES_PER_VISITOR = 150

#: Where each walk starts, beside the home page: pages that nothing links to while signed in.
SEEDS = {
    "signed out": ["/", "/login", "/recover", "/safety", "/signed-out", "/no-such-page"],
    "advisor": ["/", "/no-such-page"],
    "author": ["/"],
    "moderator": ["/"],
    "coordinator": ["/", "/admin/mail"],
}

#: The views the audit must reach for each visitor (the issue's list of main pages).
REQUIRED = {
    "signed out": {"pages.home", "accounts.login", "accounts.recover", "pages.safety", "accounts.register"},
    "advisor": {
        "pages.home",
        "policies.index",
        "policies.revision",
        "policies.section",
        "policies.history",
        "policies.compare_revisions",
        "feedback.whole_revision",
        "feedback.mine",
        "summaries.summary",
        "voting.poll",
        "compensation.statement",
        "accounts.account",
        "taking_part.standing",
        "notices.index",
        "commitments.timeline",
        "surveys.evaluation",
        "surveys.checkin",
    },
    "author": {
        "pages.home",
        "policies.index",
        "policies.revision",
        "policies.section",
        "policies.history",
        "policies.compare_revisions",
        "feedback.staff_list",
        "summaries.summary",
        "voting.poll",
        "policies.edit_draft",
        "policies.translations_to_do",
        "policies.easy_reads",
        "policies.write_easy_read",
        "accounts.account",
        "notices.index",
    },
    "moderator": {"pages.home", "policies.revision", "feedback.staff_list", "feedback.meeting_points", "notices.index"},
    "coordinator": {
        "pages.home",
        "policies.index",
        "admin.people",
        "admin.person",
        "admin.invitations",
        "admin.audit_log",
        "compensation.pay_run",
        "compensation.person_payment",
        "digest.mail_settings",
        "accounts.account",
        "notices.index",
        "surveys.checkins",
        "surveys.translate_question",
    },
}

_DOWNLOAD = re.compile(r"\.(csv|pdf|zip|json)$")


@dataclass
class Page:
    visitor: str
    path: str  # path and query, as fetched
    endpoint: str
    status: int
    html: str
    lang: str = "en"
    posted: bool = False  # the answer to a form, not a page to fetch again

    @property
    def label(self) -> str:
        return f"{self.visitor}: {self.path}"


@dataclass
class Visit:
    """One visitor's signed-in ``requests`` session and the pages it found."""

    visitor: str
    session: requests.Session
    pages: list[Page] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a page that failed to load, a required page missed


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def url_map():
    """The app's routes, to name the view behind each link (no database is opened)."""
    from council import create_app

    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PAYEE_DATA_KEY": secrets.token_urlsafe(32),
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        }
    )
    return app.url_map.bind("127.0.0.1")


def endpoint_of(adapter, path: str) -> str | None:
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    try:
        endpoint, _args = adapter.match(urlsplit(path).path, method="GET")
        return endpoint
    except RequestRedirect:
        return None
    except HTTPException:
        return "(no such page)"


def new_session(server) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, and no CA bundle from the environment in place of ours
    session.verify = str(server.certificate)
    session.headers["Accept-Language"] = "en"
    return session


def sign_in(server, login_name: str) -> requests.Session:
    session = new_session(server)
    page = session.get(server.base_url + "/login", timeout=30)
    response = session.post(
        server.base_url + "/login",
        timeout=30,
        allow_redirects=False,
        data={"csrf_token": csrf_token(page.text), "login_name": login_name, "password": server.password, "next": ""},
    )
    if response.status_code != 303:
        raise RuntimeError(f"signing in as {login_name} answered {response.status_code}")
    return session


def set_language(server, session: requests.Session, locale: str) -> None:
    """What the language switcher does (for a signed-in visitor it is also saved as their preference)."""
    page = session.get(server.base_url + "/safety", timeout=30)
    response = session.post(
        server.base_url + "/language",
        timeout=30,
        allow_redirects=False,
        data={"csrf_token": csrf_token(page.text), "locale": locale, "next": "/"},
    )
    if response.status_code != 303:
        raise RuntimeError(f"switching to {locale} answered {response.status_code}")


def _post(
    server,
    visit: Visit,
    form_path: str,
    data: dict,
    endpoint: str,
    lang: str,
    expected: tuple[int, ...],
    *,
    form_page: str | None = None,
) -> Page | None:
    """Post a form as the page that holds it (``form_page``, by default the address it posts to) would, and keep
    the answer as a page of its own."""
    form = visit.session.get(server.base_url + (form_page or form_path), timeout=30)
    response = visit.session.post(
        server.base_url + form_path,
        timeout=60,
        allow_redirects=False,
        data={"csrf_token": csrf_token(form.text), **data},
    )
    if response.status_code not in expected:
        visit.problems.append(f"{visit.visitor}: posting to {form_path} answered {response.status_code}")
        return None
    return Page(visit.visitor, form_path, endpoint, response.status_code, response.text, lang=lang, posted=True)


def form_answers(server, visit: Visit, lang: str) -> list[Page]:
    """Pages that only a post shows: a failed sign-in, a form's errors, the one-time invitation link."""
    answers = []
    if visit.visitor == "signed out":
        answers.append(
            _post(
                server,
                visit,
                "/login",
                {"login_name": "advisor1", "password": "not the password", "next": ""},
                "accounts.login (failed)",
                lang,
                (401,),
            )
        )
    if visit.visitor == "advisor":
        answers.append(
            _post(
                server,
                visit,
                "/account/password",
                {"current": "", "password": "", "confirm": ""},
                "accounts.change_password (errors)",
                lang,
                (200, 400),
            )
        )
        answers.append(
            _post(
                server,
                visit,
                "/stipends/payee",
                {"legal_name": "", "details": "IBAN XX00", "address": ""},
                "compensation.save_payee (errors)",
                lang,
                (400,),
                form_page="/stipends",
            )
        )
    if visit.visitor == "coordinator":
        answers.append(
            _post(
                server,
                visit,
                "/admin/invitations",
                {"role": "advisor", "label": "Audit"},
                "admin.invitations (created)",
                lang,
                (200,),
            )
        )
    return [answer for answer in answers if answer is not None]


def walk(server, adapter, visit: Visit, seeds: list[str]) -> None:
    base = server.base_url
    queue = deque(seeds)
    seen: set[str] = set()
    kept: dict[str, int] = {}
    while queue and len(visit.pages) < MAX_PAGES_PER_VISITOR:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        endpoint = endpoint_of(adapter, path)
        if endpoint is None or endpoint in SKIPPED_ENDPOINTS or _DOWNLOAD.search(urlsplit(path).path):
            continue
        if kept.get(endpoint, 0) >= PER_ENDPOINT:
            continue
        response = visit.session.get(base + path, timeout=60, allow_redirects=False)
        if response.is_redirect:
            target = urljoin(base + path, response.headers["Location"])
            if target.startswith(base + "/"):
                queue.appendleft(target[len(base) :])
            continue
        if response.status_code >= 500 or (response.status_code >= 400 and endpoint != "(no such page)"):
            visit.problems.append(f"{visit.visitor}: GET {path} answered {response.status_code}")
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        kept[endpoint] = kept.get(endpoint, 0) + 1
        visit.pages.append(Page(visit.visitor, path, endpoint, response.status_code, response.text))
        for href in links(response.text):
            absolute = urljoin(base + path, href).split("#", 1)[0]
            if absolute.startswith(base + "/"):
                queue.append(absolute[len(base) :])
    reached = {page.endpoint for page in visit.pages}
    for endpoint in sorted(REQUIRED.get(visit.visitor, set()) - reached):
        visit.problems.append(f"{visit.visitor}: no page of {endpoint} was reached")


def collect(server) -> list[Visit]:
    """Every visitor's pages in English, found by following links; and the answers to a few forms."""
    adapter = url_map()
    visits = []
    invitation = None
    for visitor, login_name in reversed(VISITORS.items()):  # the coordinator first: it makes an invitation
        session = sign_in(server, login_name) if login_name else new_session(server)
        visit = Visit(visitor, session)
        set_language(server, session, "en")
        answers = form_answers(server, visit, "en")
        seeds = list(SEEDS[visitor])
        for answer in answers:
            found = re.search(r"/register/[A-Za-z0-9_\-]+", answer.html)
            invitation = found.group(0) if found else invitation
        if visitor == "signed out" and invitation:
            seeds.append(invitation)
        walk(server, adapter, visit, seeds)
        visit.pages.extend(answers)
        visits.append(visit)
    visits.reverse()
    return visits


def in_language(server, visits: list[Visit], lang: str) -> list[Page]:
    """Switch every visitor to ``lang`` (as the language switcher does) and fetch their pages again."""
    pages = []
    for visit in visits:
        set_language(server, visit.session, lang)
        for page in [page for page in visit.pages if page.lang == "en" and not page.posted]:
            response = visit.session.get(server.base_url + page.path, timeout=60, allow_redirects=False)
            if response.status_code != page.status:
                visit.problems.append(f"{visit.visitor}: GET {page.path} in {lang} answered {response.status_code}")
                continue
            pages.append(Page(visit.visitor, page.path, page.endpoint, response.status_code, response.text, lang))
        pages.extend(form_answers(server, visit, lang))
    return pages

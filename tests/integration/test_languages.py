"""Every page in every language, a translation that cannot take a page down, and a language choice
that outlives the session.

The demo site is walked by each kind of visitor in each shipped language, following the links of the
pages as a person would: no page fails, and every page template is drawn. A catalog with broken
entries planted in a copy of the translations still draws its pages, in English for those messages.
The language chosen in a browser stays in a cookie of its own, holding only the locale, so the pages
after an idle timeout, a sign-out or a closed browser are in it.
"""

from __future__ import annotations

import html
import re
import secrets
import shutil
from collections import deque
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import render_template_string, template_rendered
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import select

from council import config, create_app, demo_content
from council.accounts.models import Role, SecondFactor, User
from council.accounts.sessions import state_cookie_name
from council.db_types import utcnow
from council.demo import load_demo
from council.extensions import db
from council.feedback.models import Comment, CommentState, QuoteConsent
from council.i18n import language_cookie_name
from council.policies.models import Policy, Revision, RevisionStatus
from council.voting.models import Poll
from tests.conftest import PASSWORD, TEST_SCRYPT_LOG_N, csrf_token, open_for_review, sign_in, submit
from tests.sessions import set_idle_deadline

ROOT = Path(__file__).resolve().parents[2]
LOCALES = config.LANGUAGES
VISITORS = {
    "signed out": None,
    "advisor": "advisor1",
    "author": "author",
    "moderator": "moderator",
    "coordinator": "coordinator",
}
SEEDS = ["/", "/login", "/recover", "/safety", "/signed-out", "/no-such-page", "/account", "/admin/mail", "/stipends"]
#: Links not followed: they end the session, or send a file rather than a page.
SKIPPED = re.compile(r"^/(exit|logout)|\.(csv|pdf|zip|json)$|/(statement|export)\.csv|/download")
PER_PATH_SHAPE = 1
MAX_PAGES = 90
HREF = re.compile(r'<a [^>]*href="(/[^"#]*)')
#: Templates only ever included or imported by others, or drawn outside a page (a PDF, a mail, the own-data
#: file), or shown once after a registration or recovery (tests/integration/test_invitations.py).
NOT_PAGES = {
    "base.html",
    "summaries/document.html",
    "digest/digest.html",
    "own_data/file.html",
    "accounts/recovery_code.html",
}
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _shape(path: str) -> str:
    """A path with its ids and numbers taken out: two sections of one revision are one shape."""
    path = urlsplit(path).path
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b\d+\b|/sections/[^/]+", "{}", path)


def _walk(app, login: str | None, locale: str, drawn: set[str]) -> list[str]:
    """Follow links from the seeds, in ``locale``; returns the pages that failed."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = locale
    if login:
        sign_in(client, login, PASSWORD)
    submit(client, "/language", {"locale": locale}, form_url="/")
    failed, seen_shapes, queue, seen = [], {}, deque(SEEDS + _pages_behind_forms(client, login)), set()
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        shape = _shape(path)
        if path in seen or SKIPPED.search(path) or seen_shapes.get(shape, 0) >= PER_PATH_SHAPE:
            continue
        seen.add(path)
        seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
        response = client.get(path)
        html = response.get_data(as_text=True)
        if response.status_code >= 500:
            failed.append(f"{login or 'signed out'} {locale} {path}: {response.status_code}")
        if response.status_code == 200 and response.mimetype == "text/html":
            assert f'<html lang="{locale}"' in html, f"{path} is not in {locale}"
            links = HREF.findall(html)
            # Pages reached by a form rather than a link: a revision's summary (not yet, while it is open),
            # the choice of how to take part in its round (while it is open), and the comparison of two revisions.
            for revision in {m for link in links if (m := re.match(r"/policies/[^/]+/revisions/\d+", link))}:
                links += [f"{revision.group(0)}/summary", f"/taking-part{revision.group(0)}"]
            links += [f"{link}?old=1&new=2" for link in links if link.endswith("/compare")]
            queue.extend(links)
    return failed


def _token(client, path: str) -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    return found.group(1) if found else ""


def _open_revision(app) -> str:
    with app.app_context():
        # The demo's first policy: its second revision is open for review, so there are two to compare.
        revision = db.session.scalars(
            select(Revision).where(Revision.status == RevisionStatus.PUBLISHED, Revision.number == 2)
        ).first()
        return f"/policies/{revision.policy_id}/revisions/{revision.number}"


def _pages_behind_forms(client, login: str | None) -> list[str]:
    """Send the forms whose answers are pages of their own; returns paths to visit next."""
    revision = _open_revision(client.application)
    if login is None:
        # A comment sent without a session (the page offering to sign in and post it), then the sign-in
        # form with what it kept gone.
        kept = client.post(f"{revision}/comments", data={"body": "Kept while signing in", "language": "en"})
        assert kept.status_code == 401 and "Kept while signing in" in kept.get_data(as_text=True)
        lost = client.post(
            "/feedback/sign-in-and-post", data={"csrf_token": _token(client, "/login"), "pending": "gone"}
        )
        assert lost.status_code == 400
        return ["/register/not-a-real-token"]
    if login == "advisor1":
        # Flagging a comment: linked from every comment others read, so the walk may spend its pages first.
        with client.application.app_context():
            shared = db.session.scalar(
                select(Comment.id)
                .where(Comment.state == CommentState.VISIBLE, Comment.quote_consent != QuoteConsent.AUTHOR_ONLY)
                .limit(1)
            )
        return [revision.rsplit("/revisions/", 1)[0] + "/compare?old=1&new=2", f"/feedback/comments/{shared}/flag"]
    if login == "author":
        # The review before publishing, reached by "Save and publish": a new policy's first draft (the demo's
        # draft waits for answers to its last round).
        title = f"Walked {secrets.token_hex(4)}"
        submit(
            client, "/policies/new", {"title": title, "body": "## One\n\nText.", "change_notes": "", "action": "save"}
        )
        with client.application.app_context():
            created = db.session.scalar(select(Policy.id).where(Policy.title == title))
        return [f"/policies/{created}/draft/publish"]
    if login == "coordinator":
        sent = submit(client, "/admin/invitations", {"role": "advisor", "label": ""}, expect=200)
        link = re.search(r"https?://[^/]+(/register/[^\s<\"]+)", sent.get_data(as_text=True))
        assert link, "the invitation's link is shown"
        # Who has voted: linked from a poll's page once it has closed, and saying why not before.
        with client.application.app_context():
            polls = [f"/polls/{poll_id}/roll" for poll_id in db.session.scalars(select(Poll.id))]
        return [link.group(1), *polls]
    return []


def _second_factor_pages(app, people, locale: str) -> list[str]:
    """The pages of a second factor, in ``locale``: adding an app (its backup codes), removing it, the fresh
    check before payee details, and signing in with it. Returns the pages that failed."""
    from tests.integration.test_second_factor import add_app, first_step

    login = f"staff_{locale}"
    people.make(login, Role.COORDINATOR)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = locale
    sign_in(client, login, PASSWORD)
    submit(client, "/language", {"locale": locale}, form_url="/")
    add_app(client)
    with app.app_context():
        factor_id = db.session.scalar(
            select(SecondFactor.id).join(User, SecondFactor.user_id == User.id).where(User.login_key == login)
        )
    pages = [client.get(f"/account/second-factor/{factor_id}/remove"), client.get("/account/second-factor/check")]
    submit(client, "/logout", {}, form_url="/account")
    pages.append(first_step(client, login))
    return [
        f"{login}: {page.request.path} {page.status_code}"
        for page in pages
        if page.status_code != 200 or f'<html lang="{locale}"' not in page.get_data(as_text=True)
    ]


@pytest.fixture
def demo(app_factory):
    app = app_factory(SIGN_IN_ATTEMPTS_PER_ADDRESS="1000 per minute")  # every visitor signs in once per language
    with app.app_context():
        load_demo(PASSWORD)
    return app


def test_every_page_renders_in_every_language(demo, people):
    people.app = demo
    drawn: set[str] = set()
    drawn_per_locale: dict[str, set[str]] = {}

    def record(sender, template, context, **extra):
        drawn.add(template.name)

    failed = []
    with template_rendered.connected_to(record, demo):
        for locale in LOCALES:
            drawn.clear()
            for login in VISITORS.values():
                failed += _walk(demo, login, locale, drawn)
            failed += _second_factor_pages(demo, people, locale)
            drawn_per_locale[locale] = set(drawn)
    assert not failed, failed
    pages = {
        str(path.relative_to(ROOT / "templates"))
        for path in (ROOT / "templates").rglob("*.html")
        if not path.name.startswith("_") and "macros" not in path.parts
    } - NOT_PAGES
    for locale, templates in drawn_per_locale.items():
        assert templates == drawn_per_locale["en"], f"{locale} drew other templates than English"
    assert pages <= drawn_per_locale["en"], f"pages the walk never drew: {sorted(pages - drawn_per_locale['en'])}"


#: Broken French entries planted in a copy of the catalogs: a renamed placeholder, a conversion that
#: cannot take the value, and a stray "%" in a template's text (Jinja formats every translation).
BROKEN = {
    "Error code: %(code)d": "Code d'erreur : %(kode)d",
    "Go to the home page": "Aller à 100 % l'accueil",
    "Please keep this under %(max)d characters.": "Moins de %(max)d caractères, %(name)d au plus.",
}


@pytest.fixture
def broken_french(app_factory, tmp_path):
    folder = tmp_path / "translations"
    shutil.copytree(ROOT / "translations", folder)
    for locale in LOCALES:
        po = folder / locale / "LC_MESSAGES" / "messages.po"
        with open(po, "rb") as handle:
            catalog = read_po(handle, locale=locale)
        if locale == "fr":
            for source, broken in BROKEN.items():
                assert catalog[source] is not None, source
                catalog[source].string = broken
        with open(po.with_suffix(".mo"), "wb") as handle:
            write_mo(handle, catalog)
    return app_factory(BABEL_TRANSLATION_DIRECTORIES=str(folder))


def test_a_broken_translation_falls_back_to_english_and_the_error_page_still_renders(broken_french, capsys):
    client = broken_french.test_client()
    response = client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="fr"' in page and "Page introuvable" in page, "the rest of the page is in French"
    assert "Error code: 404" in page and "Go to the home page" in page, "the broken messages are in English"
    assert "kode" not in page and "100 %" not in page
    # In code too (a form's message), not only in templates.
    from flask_babel import gettext

    with broken_french.test_request_context(headers={"Accept-Language": "fr"}):
        assert gettext("Please keep this under %(max)d characters.", max=80) == "Please keep this under 80 characters."
        assert gettext("Error code: %(code)d", code=7) == "Error code: 7"
    warnings = [line for line in capsys.readouterr().err.splitlines() if "translation_unusable" in line]
    assert warnings and all('"locale":"fr"' in line for line in warnings)


def test_a_text_drawn_again_reads_in_each_page_s_language_and_in_a_language_forced_inside_a_page(app):
    """Templates' texts are kept once drawn, per catalog (``council/i18n.py``): pages in other languages, one
    after the other, and a part drawn in another language inside a page (an export, a digest) each read in
    their own language."""
    template = "{{ _('Comments') }}"
    french, arabic = _translation("fr", "Comments"), _translation("ar", "Comments")
    assert french not in ("", "Comments") and arabic not in ("", "Comments", french)

    def drawn(locale: str) -> str:
        with app.test_request_context(headers={"Accept-Language": locale}):
            return render_template_string(template)

    assert [drawn(locale) for locale in ("fr", "ar", "fr", "en")] == [french, arabic, french, "Comments"]
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert render_template_string(template) == french
        with force_locale("ar"):
            assert render_template_string(template) == arabic
        assert render_template_string(template) == french


# --- The language choice outlives the session -----------------------------------------------

TIMED_OUT = "You were signed out because the page was left unused for a while. Please sign in again."


def _translation(locale: str, source: str) -> str:
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)[source].string


def _arabic(source: str) -> str:
    return _translation("ar", source)


def _arabic_advisor(app, people):
    people.make("willow", Role.ADVISOR)
    client = app.test_client()
    sign_in(client, "willow")
    submit(client, "/language", {"locale": "ar", "next": "/"}, form_url="/")
    cookie = client.get_cookie(language_cookie_name(app))
    assert cookie is not None and cookie.value == "ar", "the choice is kept in a cookie of its own, holding only it"
    return client


def _is_arabic(response) -> bool:
    return '<html lang="ar" dir="rtl"' in response.get_data(as_text=True)


def test_after_an_idle_timeout_the_signed_out_notice_is_in_the_chosen_language(app, people):
    client = _arabic_advisor(app, people)
    set_idle_deadline(app, client, utcnow() - timedelta(minutes=1))
    response = client.get("/account", follow_redirects=True)
    assert _is_arabic(response) and _arabic(TIMED_OUT) in response.get_data(as_text=True)


def test_signed_out_sign_in_and_error_pages_keep_the_language_after_the_browser_closed(app, people):
    client = _arabic_advisor(app, people)
    # The browser closed: its session cookies are gone; the language cookie, long-lived, is not one of them.
    for name in (app.config["SESSION_COOKIE_NAME"], state_cookie_name(app)):
        client.delete_cookie(name)
    assert _is_arabic(client.get("/login")), "the sign-in page"
    assert _is_arabic(client.get("/signed-out")), "the signed-out page"
    assert _is_arabic(client.get("/no-such-page")), "an error page"
    assert client.get("/account").status_code == 302, "signed out indeed"


def test_a_language_chosen_before_signing_in_becomes_the_persons_own(app, people):
    """Chosen on the sign-in page by someone with none saved, it is saved as theirs (sealed) and follows
    them to a new sign-in on another device, whatever that browser asks for."""
    people.make("willow")
    client = app.test_client()
    submit(client, "/language", {"locale": "ar", "next": "/login"}, form_url="/login")
    sign_in(client, "willow")
    assert _is_arabic(client.get("/account"))
    elsewhere = app.test_client()
    sign_in(elsewhere, "willow")
    assert _is_arabic(elsewhere.get("/account", headers={"Accept-Language": "fr"}))


def test_signing_out_keeps_the_language_for_the_signed_out_page(app, people):
    client = _arabic_advisor(app, people)
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/account"))}, follow_redirects=True)
    assert _is_arabic(response), "the signed-out page"
    assert client.get_cookie(language_cookie_name(app)).value == "ar"


def _language_header(app, response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(language_cookie_name(app) + "=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def test_the_language_cookie_holds_only_the_locale_lives_long_and_goes_with_the_quick_exit(app, people):
    client = _arabic_advisor(app, people)
    response = client.post("/language", data={"locale": "fr", "next": "/", "csrf_token": csrf_token(client.get("/"))})
    header = _language_header(app, response)
    assert header.startswith(f"{language_cookie_name(app)}=fr;"), "the locale and nothing else"
    assert int(re.search(r"Max-Age=(\d+)", header).group(1)) >= 180 * 24 * 3600, "long-lived"
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    # "Follow my browser" in the preferences forgets it.
    submit(client, "/account/preferences", {"locale": "", "descriptive_titles": "neutral"}, form_url="/account")
    assert client.get_cookie(language_cookie_name(app)) is None
    submit(client, "/language", {"locale": "ar", "next": "/"}, form_url="/")
    assert client.get_cookie(language_cookie_name(app)).value == "ar"
    # The quick exit leaves nothing behind, this cookie included.
    client.get("/exit")
    assert client.get_cookie(language_cookie_name(app)) is None


def _production_app(monkeypatch, tmp_path):
    """The app as production configures it (``__Host-`` cookies, HTTPS only), on a SQLite file, forms without
    their token."""
    monkeypatch.setenv("COUNCIL_INSTANCE_PATH", str(tmp_path))
    return create_app(
        {
            "ENVIRONMENT": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PAYEE_DATA_KEY": secrets.token_urlsafe(32),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "SCRYPT_LOG_N": TEST_SCRYPT_LOG_N,
            "WTF_CSRF_ENABLED": False,
        }
    )


#: A request over HTTPS to the production app, as a browser sends it.
HTTPS = {"base_url": "https://council.test"}


def signed_in_over_https(monkeypatch, tmp_path, people, login_name: str = "willow"):
    """The production app, migrated, with an advisor signed in over HTTPS: the app and the browser."""
    from flask_migrate import upgrade

    production = _production_app(monkeypatch, tmp_path)
    with production.app_context():
        upgrade()
    people.app = production
    people.make(login_name, Role.ADVISOR)
    client = production.test_client()
    signed_in = client.post("/login", data={"login_name": login_name, "password": PASSWORD}, **HTTPS)
    assert signed_in.status_code == 303
    return production, client


def test_in_production_the_language_cookie_is_host_only_and_sent_over_https_only(monkeypatch, tmp_path):
    production = _production_app(monkeypatch, tmp_path)
    response = production.test_client().post("/language", data={"locale": "es"}, **HTTPS)
    header = _language_header(production, response)
    assert header.startswith("__Host-council-lang=es;") and "Secure" in header and "SameSite=Lax" in header


def test_the_catalog_kept_for_a_request_follows_a_forced_language_and_a_refresh(app):
    from flask_babel import force_locale, gettext, refresh

    from council.i18n import SESSION_LOCALE_KEY

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        from flask import session

        french = gettext("Sign in")
        with force_locale("ar"):  # as an email or an error page in another language is drawn
            arabic = gettext("Sign in")
        assert gettext("Sign in") == french
        session[SESSION_LOCALE_KEY] = "es"  # a language chosen during the request
        refresh()
        spanish = gettext("Sign in")
    assert len({"Sign in", french, arabic, spanish}) == 4, (french, arabic, spanish)


def test_a_language_named_in_a_sentence_is_named_in_the_readers_language(app, people):
    """ "…in English" once read "…باللغة English": in a sentence a language is named the reader's way. The
    switcher and the choice of a comment's language keep each language's own name, so anyone finds theirs."""
    people.make("robin", Role.AUTHOR)
    with app.app_context():
        revision = open_for_review(db.session.scalar(select(User).where(User.login_key == "robin")), body="Words.")
        db.session.commit()
        path = f"/policies/{revision.policy_id}/revisions/{revision.number}"
    willow = _arabic_advisor(app, people)
    page = willow.get(path).get_data(as_text=True)
    notice = _arabic("This text is not yet available in your language. You are reading the original, in %(language)s.")
    assert notice % {"language": "الإنجليزية"} in page
    assert notice % {"language": "English"} not in page
    assert '<option lang="es" value="es">Español</option>' in willow.get("/account").get_data(as_text=True)


def test_a_deadline_names_its_time_zone_the_readers_or_the_sites(app, people):
    """A deadline shown without its zone misleads anyone reading it elsewhere: each one names the zone it is in."""
    people.make("robin", Role.AUTHOR)
    madrid_id = people.make("willow", Role.ADVISOR)
    people.make("river", Role.ADVISOR)
    with app.app_context():
        revision = open_for_review(db.session.scalar(select(User).where(User.login_key == "robin")), body="Words.")
        db.session.get(User, madrid_id).timezone = "Europe/Madrid"
        db.session.commit()
        path = f"/policies/{revision.policy_id}/revisions/{revision.number}"
    deadline = re.compile(r"Open for review until [^<(]*?(\d{1,2}:\d{2}\s?(?:[AP]M)?) ([^<(]+?) \(")
    shown = {}
    for name in ("willow", "river"):
        client = app.test_client()
        sign_in(client, name)
        found = deadline.search(client.get(path).get_data(as_text=True))
        assert found is not None, f"{name}'s page shows the deadline"
        shown[name] = found.group(2)
    assert shown["river"] == "UTC", "the site's zone, named"
    assert shown["willow"] in ("+0100", "+0200"), "the reader's own zone (Madrid, winter or summer), named"


def test_time_zones_are_offered_by_region_with_names_in_the_readers_language(app, people):
    willow = _arabic_advisor(app, people)
    page = willow.get("/account").get_data(as_text=True)
    europe = re.search(r'<optgroup label="أوروبا">(.*?)</optgroup>', page, flags=re.S)
    assert europe is not None, "Europe, named in Arabic, holds Europe's zones"
    assert '<option value="Europe/Madrid">مدريد</option>' in europe.group(1)
    assert "Europe/Madrid</option>" not in page, "the city's name, not the database's"
    chosen = {"locale": "ar", "timezone": "Europe/Madrid", "descriptive_titles": "neutral"}
    submit(willow, "/account/preferences", chosen, form_url="/account")
    assert '<option value="Europe/Madrid" selected>مدريد</option>' in willow.get("/account").get_data(as_text=True)
    # Without JavaScript the browser's zone is not offered: the hint is there only for the script to fill.
    assert re.search(r'<p class="hint" id="zone-suggestion" hidden>', page)


def test_undoing_a_language_choice_over_https_deletes_its_cookie_as_it_was_set(monkeypatch, tmp_path, people):
    """A `__Host-` cookie is deleted only by a header with the attributes it was set with (Secure, Path=/):
    browsers refuse a bare deletion, and the language would stay chosen after the person undid it."""
    production, client = signed_in_over_https(monkeypatch, tmp_path, people)

    def choose(locale: str):
        fields = {"locale": locale, "timezone": "", "descriptive_titles": "neutral"}
        response = client.post("/account/preferences", data=fields, **HTTPS)
        assert response.status_code == 303
        return _language_header(production, response)

    chosen = choose("es")
    assert chosen.startswith("__Host-council-lang=es;") and "Secure" in chosen and "Path=/" in chosen
    undone = choose("")
    assert undone.startswith("__Host-council-lang=;") and "Secure" in undone and "Path=/" in undone
    assert "Max-Age=0" in undone or "1970" in undone


@pytest.mark.parametrize(
    "locale, in_short, question",
    [
        ("es", "Tú eliges qué se anota", "¿Queda claro a qué puedes decir que no?"),
        ("fr", "Vous choisissez ce qui est noté", "Voit-on clairement à quoi vous pouvez dire non\u00a0?"),
        ("ar", "أنت من يختار ما يُكتب", "هل من الواضح ما الذي يمكنك رفضه؟"),
    ],
)
def test_the_demo_reads_in_every_language_its_notes_and_questions_included(demo, locale, in_short, question):
    """Issue 20: the demo's open revision, its "In short" and the author's questions, in Spanish, French and
    Arabic, so multilingual reading can be seen at once."""
    client = demo.test_client()
    sign_in(client, "advisor1")
    submit(client, "/language", {"locale": locale, "next": "/"}, form_url="/")
    revision = _open_revision(demo)
    overview = client.get(revision).get_data(as_text=True)
    assert "You are reading a translation" not in overview
    change_notes = demo_content.REVISION_2_CHANGE_NOTES_TRANSLATED[locale]
    assert f'<div class="user-text" dir="auto" lang="{locale}"><p>{html.escape(change_notes, quote=False)}' in overview
    sections = dict.fromkeys(re.findall(r'href="(/policies/[^"]+/sections/[0-9a-f]+)"', overview))
    pages = [client.get(section).get_data(as_text=True) for section in sections]
    consent = [page for page in pages if in_short in page]
    assert len(consent) == 1 and question in consent[0] and f'<ul lang="{locale}">' in consent[0]
    # Its open polls too: the question on the revision's page; a choice poll's options on its own.
    open_polls = [spec for spec in demo_content.POLLS if not spec["closed"]]
    for spec in open_polls:
        assert str(escape(demo_content.POLLS_TRANSLATED[spec["question"]][locale]["question"])) in overview
    choice = next(spec for spec in open_polls if "options" in spec)
    words = demo_content.POLLS_TRANSLATED[choice["question"]][locale]
    link = re.search(r'href="(/polls/[0-9a-f-]+)"><bdi>' + re.escape(str(escape(words["question"]))), overview)
    poll_page = client.get(link.group(1)).get_data(as_text=True)
    assert all(str(escape(option)) in poll_page for option in words["options"]) and "Online" not in poll_page
    # And the planned meeting on their home page.
    home = client.get("/").get_data(as_text=True)
    assert all(str(escape(text)) in home for text in demo_content.PLANNED_MEETING_TRANSLATED[locale])


@pytest.mark.parametrize("writer, index, locale", [("advisor2", 1, "es"), ("advisor3", 2, "fr"), ("advisor4", 3, "ar")])
def test_the_demo_answers_each_writer_in_the_language_they_wrote_in(demo, writer, index, locale):
    client = demo.test_client()
    sign_in(client, writer)
    submit(client, "/language", {"locale": locale, "next": "/"}, form_url="/")
    mine = client.get("/feedback/mine").get_data(as_text=True)
    assert str(escape(demo_content.RESPONSES_TRANSLATED[index])) in mine
    assert str(escape(demo_content.RESPONSES[index][1])) in mine, "the original one tap away"
    # And in the next revision's "You said, we did", for everyone reading in that language.
    reader = demo.test_client()
    sign_in(reader, "advisor6")
    submit(reader, "/language", {"locale": locale, "next": "/"}, form_url="/")
    record = reader.get(_open_revision(demo)).get_data(as_text=True)
    assert str(escape(demo_content.RESPONSES_TRANSLATED[index])) in record

"""docs/threat-model.md, claim by claim, where no other test already proves it.

Each test is named after the claim it proves and works through the real app: forms posted with
their CSRF tokens, the real database (SQLite or PostgreSQL), the real configuration. Claims that
other files already prove are listed in the threat model's own mapping, not repeated here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from council import config as defaults
from council import security
from council.accounts import state
from council.accounts.models import Role, SealedState, ServerSession, User
from council.audit.models import AuditEvent
from council.compensation import service as stipends
from council.compensation.models import PayeeProfile
from council.db_types import utcnow
from council.extensions import db, limiter
from council.feedback import pending
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentAgreement, CommentFlag, Disposition
from council.policies.models import Revision
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import RECOVERY as RECOVERY_PURPOSE
from council.security import KeyUnwrapError, normalise_recovery_code, unwrap_key
from council.summaries.models import RevisionOutcome
from council.voting import service as voting
from council.voting.models import Ballot, Poll, VoterRoll
from tests.conftest import (
    CSRF_PATTERN,
    PASSWORD,
    csrf_token,
    flush_mix,
    migrated_columns,
    open_for_review,
    open_poll,
    sign_in,
    submit,
)
from tests.sessions import record_of, set_idle_deadline, state_of

BODY = "Opening words.\n\n## Consent\n\nWe ask first.\n\n## Records\n\nWe write little.\n"
TITLE = "Shelter intake interviews"
QUESTION = "Should intake wait a day?"
ADVISORS = ("willow", "river", "cedar")
NEW_PASSWORD = "a brand new passphrase"
COMMENT_FIELDS = re.compile(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"')


# --- Shared set-up -------------------------------------------------------------------------


@pytest.fixture
def council(app, people):
    """An author, a moderator, a coordinator and three advisors; a revision open for review and an open poll."""
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    people.make("mo", Role.MODERATOR, pseudonym="Mo Moderator")
    people.make("sam", Role.COORDINATOR, pseudonym="Sam Coordinator")
    for name in ADVISORS:
        people.make(name, Role.ADVISOR, pseudonym=name.title())
    return _open_revision_and_poll(app, author_id)


def _open_revision_and_poll(app, author_id):
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body=BODY, title=TITLE)
        poll = open_poll(author, revision, question=QUESTION)
        db.session.commit()
        path = f"/policies/{revision.policy_id}/revisions/1"
        return SimpleNamespace(
            path=path,
            section=f"{path}/sections/{revision.sections[1].key}",
            other_section=f"{path}/sections/{revision.sections[2].key}",
            keys=[s.key for s in revision.sections],
            poll=f"/polls/{poll.id}",
            poll_id=poll.id,
            revision_id=revision.id,
            policy_id=revision.policy_id,
        )


def _client(app, login_name, password=PASSWORD, address=None):
    client = app.test_client()
    if address:
        client.environ_base["REMOTE_ADDR"] = address
    sign_in(client, login_name, password)
    return client


def _post_comment(client, council, body, consent="verbatim", section=None, flush=True):
    """Through the section's own form, then the mix's flush (unless ``flush`` is false); returns the new
    comment's id."""
    section = section or council.section
    fields = dict(COMMENT_FIELDS.findall(client.get(section).get_data(as_text=True)))
    response = client.post(
        f"{council.path}/comments",
        data={**fields, "body": body, "language": "en", "quote_consent": consent, "question": ""},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    if flush:
        flush_mix(client.application)
    return uuid.UUID(response.headers["Location"].rsplit("#comment-", 1)[1])


def _vote(client, poll_url, choice):
    """Through the poll's form, then the mix's flush; returns the vote's response."""
    response = submit(client, poll_url, choice)
    flush_mix(client.application)
    return response


def _user(login_name) -> User:
    return db.session.scalar(select(User).where(User.login_key == login_name))


def _key(app, login_name, password=PASSWORD) -> bytes:
    with app.app_context():
        user = _user(login_name)
        return unwrap_key(user.key_wrapped_by_password, password, purpose=PASSWORD_PURPOSE, user_id=user.id)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _token(client) -> bytes:
    raw = client.get_cookie("council").value
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _every_stored_value(app) -> list:
    """Every value of every row of every table: what a copy of the database holds."""
    values = []
    with app.app_context(), db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                values.extend(value for value in row if value is not None)
    return values


def _title(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


# --- Who we protect it from -------------------------------------------------------------------


def test_a_database_copy_alone_cannot_unwrap_a_participation_key(app, council, people):
    willow = _client(app, "willow")
    _post_comment(willow, council, "Consent should be asked twice.")
    assert _vote(willow, council.poll, {"choice": "agree"}).status_code == 303
    key = _key(app, "willow")
    encodings = {key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode().rstrip("=")}
    for value in _every_stored_value(app):
        if isinstance(value, (bytes, bytearray, memoryview)):
            assert key not in bytes(value)
        else:
            assert not any(encoded in str(value) for encoded in encodings)
    with app.app_context():
        user = _user("willow")
        row_text = [user.login_name, user.pseudonym, str(user.id), user.id.hex, "", PASSWORD.upper()]
        for wrapped, purpose in (
            (user.key_wrapped_by_password, PASSWORD_PURPOSE),
            (user.key_wrapped_by_recovery, RECOVERY_PURPOSE),
        ):
            for guess in row_text:
                with pytest.raises(KeyUnwrapError):
                    unwrap_key(wrapped, guess, purpose=purpose, user_id=user.id)
        code = normalise_recovery_code(people.recovery_codes["willow"])
        assert unwrap_key(user.key_wrapped_by_recovery, code, purpose=RECOVERY_PURPOSE, user_id=user.id) == key


def test_the_participation_key_is_wrapped_by_scrypt_and_aes_gcm_bound_to_purpose_and_person(app_factory, people):
    assert defaults.SCRYPT_LOG_N == 15, "n = 2^15 by default"
    app = app_factory(SCRYPT_LOG_N=defaults.SCRYPT_LOG_N)
    people.app = app
    people.make("willow")
    people.make("river")
    key = _key(app, "willow")
    assert len(key) == 32 and key != _key(app, "river")
    client = _client(app, "willow")
    response = submit(
        client, "/account/password", {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 303
    with app.app_context():
        user = _user("willow")
        blob, user_id = user.key_wrapped_by_password, user.id
    header, salt, nonce, sealed = blob[:4], blob[4:20], blob[20:32], blob[32:]
    assert tuple(header) == (1, 15, 8, 1), "format version 1, then log2(n), r and p"
    # Rebuilt independently of Council's code: scrypt(password) opens it with the header, purpose and person.
    wrapping = hashlib.scrypt(NEW_PASSWORD.encode(), salt=salt, n=2**15, r=8, p=1, dklen=32, maxmem=64 * 2**20)
    assert AESGCM(wrapping).decrypt(nonce, sealed, header + b"password" + user_id.bytes) == key
    for wrong in (
        header + b"recovery" + user_id.bytes,
        header + b"password" + uuid.uuid4().bytes,
        bytes([1, 14, 8, 1]) + b"password" + user_id.bytes,
    ):
        with pytest.raises(InvalidTag):
            AESGCM(wrapping).decrypt(nonce, sealed, wrong)


def test_an_unknown_login_name_costs_the_same_scrypt_work_as_a_wrong_password(app, people, monkeypatch):
    people.make("willow")
    derivations = []
    real_derive = security._derive
    monkeypatch.setattr(security, "_derive", lambda *args: derivations.append(args[2]) or real_derive(*args))
    work = {}
    for login_name in ("willow", "nobody"):
        derivations.clear()
        submit(app.test_client(), "/login", {"login_name": login_name, "password": "a wrong password"}, expect=401)
        work[login_name] = sum(2**log_n for log_n in derivations)
    assert work["willow"] == work["nobody"]


def test_sign_in_attempts_are_limited_per_ip_address(app_factory, people):
    app = app_factory(SIGN_IN_FAILURES_PER_ADDRESS="2 per 5 minutes")
    people.app = app
    people.make("willow")

    def attempt(address, password="a wrong password"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return submit(client, "/login", {"login_name": "willow", "password": password}, expect=None).status_code

    assert [attempt("198.51.100.7") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.7", PASSWORD) == 429
    assert attempt("198.51.100.8") == 401, "another address has its own window"
    assert attempt("198.51.100.8", PASSWORD) == 303


def test_staff_see_who_voted_but_no_staff_page_names_the_writer_of_a_comment_or_ballot(app, council):
    willow, river = _client(app, "willow"), _client(app, "river")
    comment_id = _post_comment(willow, council, "Intake should never be rushed.")
    _post_comment(river, council, "Only the authors should read this.", consent="author_only")
    assert _vote(willow, council.poll, {"choice": "disagree"}).status_code == 303
    submit(river, f"/feedback/comments/{comment_id}/flag", {"reason": "abusive"}, form_url=council.section)
    flush_mix(app)
    author, moderator, coordinator = _client(app, "robin"), _client(app, "mo"), _client(app, "sam")
    staff_pages = {
        "author's comment list": author.get(f"{council.path}/comments").get_data(as_text=True),
        "moderator's flagged list": moderator.get(f"{council.path}/comments?moderation=flagged").get_data(as_text=True),
        "coordinator's comment list": coordinator.get(f"{council.path}/comments").get_data(as_text=True),
        "poll page": coordinator.get(council.poll).get_data(as_text=True),
        "audit trail": coordinator.get("/admin/audit").get_data(as_text=True),
    }
    assert "Intake should never be rushed." in staff_pages["author's comment list"]
    assert "Only the authors should read this." in staff_pages["author's comment list"]
    assert "Intake should never be rushed." in staff_pages["moderator's flagged list"]
    for name, page in staff_pages.items():
        for pseudonym in ("Willow", "River"):
            assert pseudonym not in page, f"{pseudonym} named on the {name}"
    roll = coordinator.get(council.poll + "/roll").get_data(as_text=True)
    assert "Willow" not in roll and "Who has voted is shown when the poll closes." in roll, "not while open"
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["council", "tick"]).exit_code == 0
    roll = coordinator.get(council.poll + "/roll").get_data(as_text=True)
    assert "Willow</bdi>: has voted" in roll, "who voted is shown once the poll has closed"
    assert "Disagree" not in roll and "disagree" not in roll, "how is not"


# --- How: sessions --------------------------------------------------------------------------


def test_a_session_record_holds_a_hash_of_the_cookie_token_and_the_person_and_key_sealed_under_it(app, council):
    willow = _client(app, "willow")
    token = _token(willow)
    assert len(token) == 32
    # The id is a SHA-256 of the token (with a fixed label in front, so the hash serves this purpose only).
    record_id = hashlib.sha256(b"council-session-id:" + token).hexdigest()
    with app.app_context():
        sealed = db.session.get(ServerSession, record_id).sealed
        willow_id = _user("willow").id
    assert migrated_columns(app, "server_sessions") == {"id", "sealed", "expires_at"}

    def hkdf(material: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"council-session-seal").derive(material)

    opened = json.loads(AESGCM(hkdf(token)).decrypt(sealed[:12], sealed[12:], record_id.encode()))
    assert opened["u"] == str(willow_id), "whose session it is, only with the cookie"
    assert base64.b64decode(opened["k"]) == _key(app, "willow")
    assert len(sealed) % 512 == 12 + 16, "padded, so its length tells nothing"
    for stored in (record_id.encode(), bytes.fromhex(record_id)):
        with pytest.raises(InvalidTag):
            AESGCM(hkdf(stored)).decrypt(sealed[:12], sealed[12:], record_id.encode())


def test_a_session_ends_after_thirty_idle_minutes_or_twelve_hours_by_default(app, people):
    assert (defaults.SESSION_IDLE_MINUTES, defaults.SESSION_ABSOLUTE_HOURS) == (30, 12)
    assert (app.config["SESSION_IDLE_MINUTES"], app.config["SESSION_ABSOLUTE_HOURS"]) == (30, 12)
    people.make("willow")
    before = utcnow()
    willow = _client(app, "willow")
    after = utcnow()
    record = record_of(app, willow)
    # Counted from the next whole minute. The idle deadline is in the signed cookie, not the record.
    minute = timedelta(minutes=1)
    idle = datetime.fromtimestamp(state_of(app, willow)["i"] * 60, UTC)
    assert before + timedelta(minutes=30) <= idle <= after + timedelta(minutes=30) + minute
    assert before + timedelta(hours=12) <= record.expires_at <= after + timedelta(hours=12) + minute


def test_a_session_row_is_deleted_once_a_deadline_passes_and_its_cookie_then_opens_nothing(app, people):
    people.make("willow")
    people.make("river")
    phone, laptop = _client(app, "willow"), _client(app, "willow")
    phone_id = hashlib.sha256(b"council-session-id:" + _token(phone)).hexdigest()
    laptop_id = hashlib.sha256(b"council-session-id:" + _token(laptop)).hexdigest()
    set_idle_deadline(app, phone, utcnow() - timedelta(minutes=1))
    with app.app_context():
        db.session.execute(
            update(ServerSession)
            .where(ServerSession.id == laptop_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    # The idle one: its cookie comes back, is refused, and the row goes.
    assert phone.get("/account").status_code == 302
    with app.app_context():
        assert db.session.get(ServerSession, phone_id) is None
        assert db.session.get(ServerSession, laptop_id) is not None, "waits for the cookie or the daily purge"
    # The other never comes back: `flask council purge-sessions` (daily) removes it.
    result = app.test_cli_runner().invoke(args=["council", "purge-sessions"])
    assert "1 expired sessions removed." in result.output
    with app.app_context():
        assert db.session.get(ServerSession, laptop_id) is None
    # And a cookie whose row is gone opens nothing.
    stolen = app.test_client()
    stolen.set_cookie("council", base64.urlsafe_b64encode(_token(laptop)).decode().rstrip("="))
    assert stolen.get("/account").status_code == 302


# --- How: no activity records about people -----------------------------------------------------


def test_signing_in_and_using_the_site_leaves_the_persons_row_untouched(app, council):
    def row():
        with app.app_context(), db.engine.connect() as connection:
            return connection.execute(select(User.__table__).where(User.login_key == "willow")).one()._asdict()

    before = row()
    willow = _client(app, "willow")
    for page in ("/", "/account", council.path, council.section, council.poll, "/feedback/mine", "/stipends"):
        assert willow.get(page).status_code == 200, page
    _post_comment(willow, council, "A thought about intake.")
    _vote(willow, council.poll, {"choice": "agree"})
    willow.get("/notices")  # "seen up to" is stored sealed, under an id derived from the key, not here
    submit(willow, "/language", {"locale": "es", "next": "/"}, form_url="/")
    assert row() == before, "no login time, no last-seen time, no language, nothing"


def test_an_advisors_participation_writes_no_audit_event(app, council):
    def events():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(AuditEvent))

    before = events()
    willow, river = _client(app, "willow"), _client(app, "river")
    comment_id = _post_comment(willow, council, "First words.")
    submit(
        willow,
        f"/feedback/comments/{comment_id}/edit",
        {"body": "Better words.", "language": "en", "quote_consent": "paraphrase"},
    )
    submit(river, f"/feedback/comments/{comment_id}/flag", {"reason": "abusive"}, form_url=council.section)
    _vote(willow, council.poll, {"choice": "agree"})
    _vote(willow, council.poll, {"choice": "abstain"})
    submit(willow, council.path + "/review-done", {}, form_url=council.path)
    submit(
        willow, "/stipends/payee", {"legal_name": "Amira Haddad", "details": "", "address": ""}, form_url="/stipends"
    )
    submit(willow, "/stipends/preferences", {"method": "cash"}, form_url="/stipends")
    submit(willow, "/account/preferences", {"locale": "fr", "descriptive_titles": "neutral"}, form_url="/account")
    submit(willow, "/account/my-data", {"password": PASSWORD, "format": "json"}, expect=200)
    submit(willow, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    willow.get("/notices")
    assert events() == before


def test_no_ip_address_reaches_the_database(app, council):
    address = "203.0.113.219"
    willow = _client(app, "willow", address=address)
    _post_comment(willow, council, "Written from a particular address.")
    _vote(willow, council.poll, {"choice": "agree"})
    submit(willow, council.path + "/review-done", {}, form_url=council.path)
    packed = socket.inet_aton(address)
    for value in _every_stored_value(app):
        if isinstance(value, (bytes, bytearray, memoryview)):
            assert packed not in bytes(value) and address.encode() not in bytes(value)
        else:
            assert address not in str(value)


# --- How: pages -----------------------------------------------------------------------------------


def _page_urls(council):
    return [
        "/",
        council.path,
        council.section,
        council.poll,
        "/feedback/mine",
        "/stipends",
        "/notices",
        council.path + "/summary",
        "/account",
        "/account/my-data",
    ]


def test_pages_hold_no_inline_code_and_load_nothing_from_another_site(app, council):
    willow, sam = _client(app, "willow"), _client(app, "sam")
    _post_comment(willow, council, "A plain comment.")
    pages = [(app.test_client(), url) for url in ("/login", "/safety", "/recover", "/no-such-page")]
    pages += [(willow, url) for url in _page_urls(council)]
    pages += [(sam, url) for url in ("/admin/people", "/admin/audit", "/admin/stipends", council.poll + "/roll")]
    for client, url in pages:
        page = client.get(url).get_data(as_text=True)
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S):
            assert 'src="/static/' in attributes and not body.strip(), url
        assert "<style" not in page and not re.search(r"<[^>]+\sstyle\s*=", page), url
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), url
        assert not re.search(r"javascript:", page, re.I), url
        for tag in re.findall(r"<(?:script|img|link|iframe|source|video|audio|object|embed)\b[^>]*>", page):
            for target in re.findall(r'(?:src|href)="([^"]*)"', tag):
                assert target.startswith("/"), (url, target)
                assert not target.startswith("//"), (url, target)
        assert '<link rel="icon" href="/static/favicon.svg"' in page, url
    stylesheet = app.test_client().get("/static/css/council.css").get_data(as_text=True)
    assert "@import" not in stylesheet and "@font-face" not in stylesheet
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", stylesheet)
    script = app.test_client().get("/static/js/exit.js").get_data(as_text=True)
    assert not re.search(r"https?://|fetch\(|XMLHttpRequest|sendBeacon|localStorage|document\.cookie", script)
    icon = app.test_client().get("/static/favicon.svg").get_data(as_text=True)
    assert "<text" not in icon and "<title" not in icon and "href" not in icon, "a plain shape, nothing to read"


def test_every_advisor_page_is_uncached_has_the_quick_exit_and_a_neutral_title(app, council):
    willow = _client(app, "willow")
    _post_comment(willow, council, "Something to show on the pages.")
    for url in _page_urls(council):
        response = willow.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        page = response.get_data(as_text=True)
        assert 'id="quick-exit"' in page and 'href="/exit"' in page, url
        assert _title(page) == "Council", url
        assert TITLE not in _title(page) and QUESTION not in _title(page), url
    for url in ("/stipends/statement.csv", "/stipends/printable"):
        assert willow.get(url).headers["Cache-Control"] == "no-store", url
    download = submit(willow, "/account/my-data", {"password": PASSWORD, "format": "html"}, expect=200)
    assert download.headers["Cache-Control"] == "no-store"


# --- Comments -----------------------------------------------------------------------------------


def test_a_comment_row_holds_only_the_listed_fields_and_an_owner_tag_of_the_writers_key(app, council):
    willow, river = _client(app, "willow"), _client(app, "river")
    comment_id = _post_comment(willow, council, "Only what the page lists.")
    submit(river, f"/feedback/comments/{comment_id}/flag", {"reason": "abusive"}, form_url=council.section)
    submit(river, f"/feedback/comments/{comment_id}/agree", {}, form_url=council.section)
    flush_mix(app)
    with app.app_context():
        schema = inspect(db.engine)
        columns = {column["name"]: column for column in schema.get_columns("comments")}
        assert set(columns) == {
            "id",
            "revision_id",
            "section_key",  # the revision and section
            "question_id",  # the guiding question it answers, if any
            "body",
            "language",
            "quote_consent",  # the text, its language, the consent
            "state",
            "hidden_reason",
            "hidden_note",
            "review_requested",
            "flag_count",  # moderation
            "edited",  # whether the writer edited it
            "created_on",
            "owner_tag",
            "submission_key",  # the day, the tag, the random key
            "passage_start",
            "passage_end",
            "passage_exact",
            "passage_prefix",
            "passage_suffix",  # the words pointed at, where they are, a little text either side
            "proposal",  # the words proposed in their place
            "raised_on",  # a point raised in a meeting: the meeting's day, no meeting row, no person
        }
        assert schema.get_pk_constraint("comments")["constrained_columns"] == ["id"]
        assert "DATE" in str(columns["raised_on"]["type"]).upper()
        # Nothing joins a comment, a point raised in a meeting included, to a person, a meeting or its attendance.
        referred = {key["referred_table"] for key in schema.get_foreign_keys("comments")}
        assert not referred & {"users", "meetings", "attendances"}
        assert "DATE" in str(columns["created_on"]["type"]).upper()
        assert not re.search("TIME", str(columns["created_on"]["type"]).upper()), "the day, no time of day"
        # The flagger's reason and note, and nothing that says who sent them or when.
        assert {c["name"] for c in schema.get_columns("comment_flags")} == {
            "id",
            "comment_id",
            "flag_tag",
            "reason",
            "note",
        }
        # An agreement: the comment and the agreer's tag, nothing else.
        assert {c["name"] for c in schema.get_columns("comment_agreements")} == {"id", "comment_id", "agreement_tag"}
        comment = db.session.get(Comment, comment_id)
        assert comment.id.version == 4, "a random id, no sequence"
        raw_day = db.session.execute(text("SELECT created_on FROM comments")).scalar()
        assert str(raw_day) == utcnow().date().isoformat()
        flag = db.session.scalar(select(CommentFlag))
        agreement = db.session.scalar(select(CommentAgreement))
        assert agreement.id.version == 4 and agreement.comment_id == comment.id, "a random id, no sequence"
        owner_tag, flag_tag, agreement_tag = comment.owner_tag, flag.flag_tag, agreement.agreement_tag
    assert owner_tag == _hmac(_key(app, "willow"), f"comment:{comment_id}")
    assert flag_tag == _hmac(_key(app, "river"), f"flag:{comment_id}")
    assert agreement_tag == _hmac(_key(app, "river"), f"agree:{comment_id}")


def test_a_flush_writes_a_whole_batch_of_comments_ballots_and_roll_flags_in_one_transaction(app, council):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("only PostgreSQL shows a row's transaction; SQLite's comments have no rowid")

    def transactions():
        with app.app_context():
            found = {
                table: set(db.session.scalars(text(f"SELECT xmin::text::bigint FROM {table} {where}")))
                for table, where in (("comments", ""), ("ballots", ""), ("voter_rolls", "WHERE voted"))
            }
            db.session.remove()
            return found

    clients = {name: _client(app, name) for name in ADVISORS}
    for name, client in clients.items():
        _post_comment(client, council, f"{name} writes this just now.", flush=False)
        submit(client, council.poll, {"choice": "agree"})
    # At the click only sealed envelopes are written: no comment, no ballot, no roll flag yet.
    assert transactions() == {"comments": set(), "ballots": set(), "voter_rolls": set()}
    result = app.test_cli_runner().invoke(args=["council", "tick"])
    assert result.exit_code == 0, result.output
    after = transactions()
    # One transaction for the whole batch: its id says "one of these advisors", never which.
    assert len(after["comments"] | after["ballots"] | after["voter_rolls"]) == 1


def test_a_comment_typed_after_the_session_ended_is_sealed_under_the_app_secret_for_two_hours_and_stored_nowhere(
    app_factory, people, monkeypatch
):
    app = app_factory()
    people.app = app
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow")
    council = _open_revision_and_poll(app, author_id)
    text_typed = "Typed while the session ran out 7731"
    willow = _client(app, "willow")
    fields = dict(COMMENT_FIELDS.findall(willow.get(council.section).get_data(as_text=True)))
    set_idle_deadline(app, willow, utcnow() - timedelta(minutes=1))
    sent_at = time.time()
    response = willow.post(
        f"{council.path}/comments",
        data={**fields, "body": text_typed, "language": "en", "quote_consent": "verbatim", "question": ""},
    )
    assert response.status_code == 401
    sealed = re.search(r'name="pending" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    # Nothing is stored: not as a comment, not in any session row, nowhere in the database.
    for value in _every_stored_value(app):
        assert text_typed.encode() not in (
            bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
        )
    # AES-GCM under HKDF(SECRET_KEY), with a deadline two hours on.
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"council-pending-comment").derive(
        app.config["SECRET_KEY"].encode()
    )
    blob = base64.urlsafe_b64decode(sealed)
    payload = json.loads(AESGCM(secret).decrypt(blob[:12], blob[12:], b"council-pending-comment"))
    assert payload["body"] == text_typed
    assert abs(payload["deadline"] - (sent_at + 120 * 60)) < 60
    assert defaults.PENDING_COMMENT_MINUTES == 120

    def send(target_app, offset_seconds=0):
        monkeypatch.setattr(pending, "time", SimpleNamespace(time=lambda: time.time() + offset_seconds))
        client = target_app.test_client()
        page = client.get("/login")
        return client.post(
            "/feedback/sign-in-and-post",
            data={"csrf_token": csrf_token(page), "pending": sealed, "login_name": "willow", "password": PASSWORD},
        )

    other_secret = app_factory()  # same database, another SECRET_KEY
    assert send(other_secret).status_code == 400
    assert send(app, offset_seconds=2 * 3600 + 60).status_code == 400, "too late"
    assert send(app, offset_seconds=2 * 3600 - 60).status_code == 303
    flush_mix(app)
    with app.app_context():
        assert [c.body for c in db.session.scalars(select(Comment))] == [text_typed]


def test_the_comment_limit_counts_per_session_keyed_on_a_hash_of_its_token(app_factory, people):
    app = app_factory(COMMENT_RATE_LIMIT="2 per 10 minutes")
    people.app = app
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow")
    council = _open_revision_and_poll(app, author_id)
    phone, laptop = _client(app, "willow"), _client(app, "willow")

    def post(client, body):
        fields = dict(COMMENT_FIELDS.findall(client.get(council.section).get_data(as_text=True)))
        return client.post(
            f"{council.path}/comments",
            data={**fields, "body": body, "language": "en", "quote_consent": "verbatim", "question": ""},
        )

    assert [post(phone, f"Phone {n}").status_code for n in range(3)] == [303, 303, 429]
    assert post(laptop, "Same person, another session").status_code == 303
    with app.app_context():
        willow = _user("willow")
        personal = {str(willow.id), willow.id.hex, "willow", "Willow"}
    keys = [key for key in limiter.storage.storage if "comment" in key]
    expected = {"comment:" + hashlib.sha256(_token(client)).hexdigest() for client in (phone, laptop)}
    assert keys and all(any(e in key for e in expected) for key in keys)
    assert not any(value in key for key in keys for value in personal)


# --- Votes ------------------------------------------------------------------------------------


def test_there_is_no_switch_that_makes_a_poll_non_anonymous(app, council):
    switch = re.compile(r"anonym|public|secret|named|visib|identif|reveal|open_ballot|voter", re.I)
    with app.app_context():
        poll_columns = {column["name"] for column in inspect(db.engine).get_columns("polls")}
    assert not {name for name in poll_columns if switch.search(name)}
    author = _client(app, "robin")
    form = author.get(f"{council.path}/polls/new").get_data(as_text=True)
    fields = set(re.findall(r'name="([^"]+)"', form))
    assert {"question", "kind", "opens_at", "closes_at"} <= fields
    assert not {name for name in fields if switch.search(name)}


def test_a_ballot_holds_the_poll_the_choice_a_random_id_and_the_voters_ballot_tag_only(app, council):
    willow = _client(app, "willow")
    assert _vote(willow, council.poll, {"choice": "agree"}).status_code == 303
    with app.app_context():
        schema = inspect(db.engine)
        assert {c["name"] for c in schema.get_columns("ballots")} == {"id", "poll_id", "choice", "ballot_tag"}
        assert {c["name"] for c in schema.get_columns("voter_rolls")} == {"id", "poll_id", "user_id", "voted"}
        ballot = db.session.scalar(select(Ballot))
        assert ballot.id.version == 4 and ballot.choice == "agree"
        tag = ballot.ballot_tag
    assert tag == _hmac(_key(app, "willow"), f"ballot:{council.poll_id}")


def test_unique_constraints_refuse_a_second_ballot_or_roll_row(app, council):
    willow = _client(app, "willow")
    assert _vote(willow, council.poll, {"choice": "agree"}).status_code == 303
    with app.app_context():
        ballot = db.session.scalar(select(Ballot))
        willow_id = _user("willow").id
        attempts = (
            insert(Ballot).values(
                id=uuid.uuid4(), poll_id=ballot.poll_id, choice="disagree", ballot_tag=ballot.ballot_tag
            ),
            insert(VoterRoll).values(id=uuid.uuid4(), poll_id=ballot.poll_id, user_id=willow_id, voted=False),
        )
        for statement in attempts:
            with pytest.raises(IntegrityError):
                db.session.execute(statement)
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_a_closed_polls_ballots_refuse_an_insert_too(app, council):
    for name in ADVISORS:
        _vote(_client(app, name), council.poll, {"choice": "agree"})
    with app.app_context():
        voting.close(db.session, db.session.get(Poll, council.poll_id))
        db.session.commit()
        with pytest.raises(IntegrityError, match="ballots of a closed poll are immutable"):
            db.session.execute(
                insert(Ballot).values(id=uuid.uuid4(), poll_id=council.poll_id, choice="block", ballot_tag=None)
            )
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 3


def test_results_need_the_configured_number_of_ballots(app_factory, people):
    assert defaults.POLL_MIN_BALLOTS == 3
    app = app_factory(POLL_MIN_BALLOTS=2)
    people.app = app
    author_id = people.make("robin", Role.AUTHOR)
    for name in ADVISORS:
        people.make(name, pseudonym=name.title())
    council = _open_revision_and_poll(app, author_id)
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    created = submit(
        _client(app, "robin"),
        f"{council.path}/polls/new",
        {
            "question": "Two are enough?",
            "kind": "consent",
            "options": "",
            "section": "",
            "explanation": "",
            "opens_at": "2020-01-01T09:00",
            "closes_at": tomorrow,
            "score_min": "1",
            "score_max": "5",
        },
    )
    assert created.status_code == 303
    poll_url = created.headers["Location"]
    with app.app_context():
        poll = db.session.scalar(select(Poll).where(Poll.question == "Two are enough?"))
        assert poll.min_ballots == 2
        voting.open_due_polls(db.session)
        db.session.commit()
    willow = _client(app, "willow")
    assert "Results are shown only if at least 2 people vote" in willow.get(poll_url).get_data(as_text=True)
    _vote(willow, poll_url, {"choice": "agree"})
    assert "<h2>Results</h2>" not in willow.get(poll_url).get_data(as_text=True), "never while open"
    _vote(_client(app, "river"), poll_url, {"choice": "disagree"})
    with app.app_context():
        db.session.execute(
            update(Poll).where(Poll.question == "Two are enough?").values(closes_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    closed = _client(app, "cedar").get(poll_url).get_data(as_text=True)
    assert "50%" in closed and "Too few votes" not in closed


def test_while_a_poll_is_open_a_changed_vote_rewrites_the_same_ballot_row(app, council):
    willow = _client(app, "willow")

    def state():
        with app.app_context():
            ballots = db.session.execute(select(Ballot.id, Ballot.choice)).all()
            voted = db.session.scalars(select(VoterRoll.voted).where(VoterRoll.poll_id == council.poll_id)).all()
            return ballots, sorted(voted)

    assert state() == ([], [False, False, False])
    _vote(willow, council.poll, {"choice": "agree"})
    [(first_id, choice)], voted = state()
    assert choice == "agree" and voted == [False, False, True], "one flag flips, one ballot appears: the window"
    _vote(willow, council.poll, {"choice": "block", "block_reason": "Harms people in shelters."})
    _vote(willow, council.poll, {"choice": "disagree"})
    [(same_id, choice)], voted = state()
    assert (same_id, choice) == (first_id, "disagree") and voted == [False, False, True]


# --- Summaries and "You said, we did" -----------------------------------------------------------


def test_outcome_rows_name_no_writer_and_cannot_be_deleted(app, council):
    willow = _client(app, "willow")
    comment_id = _post_comment(willow, council, "Please explain the wait.")
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("revision_outcomes")}
        assert columns == {
            "id",
            "revision_id",
            "comment_id",
            "section_key",
            "quote_consent",
            "disposition",
            "response_body",
            "responder_id",
        }, "the responder is staff; no column for the writer"
        db.session.add(
            RevisionOutcome(
                revision_id=council.revision_id,
                comment_id=comment_id,
                section_key=council.keys[1],
                quote_consent="verbatim",
                disposition=str(Disposition.ADOPTED),
                response_body="Explained.",
                responder_id=_user("robin").id,
            )
        )
        db.session.commit()
        with pytest.raises(DBAPIError, match="do not change"):
            db.session.execute(text("DELETE FROM revision_outcomes"))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(RevisionOutcome)) == 1


# --- Home pages and notices ---------------------------------------------------------------------


QUOTE = '"'


def _count_statements(app, client, url):
    with app.app_context():
        engine = db.engine
    statements = []

    def listener(conn, cursor, statement, *args):
        words = statement.split()
        verb = words[0].upper()
        # A write says which table: "seen up to" is sent to the mix as an envelope (accounts.state).
        statements.append(f"{verb} {words[2].strip(QUOTE)}" if verb in ("INSERT", "DELETE") else verb)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
        assert response.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return statements, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _answered_comments(app, council, key, author_name, count):
    with app.app_context():
        revision = db.session.get(Revision, council.revision_id)
        author = _user(author_name)
        for n in range(count):
            draft = feedback.Draft(
                section_key=council.keys[1],
                question_id=None,
                body=f"Point {n}",
                language="en",
                quote_consent=feedback.QuoteConsent.VERBATIM,
                submission_key=f"notice-test-{uuid.uuid4().hex}",
            )
            comment = feedback.post_comment(db.session, key, revision, draft, limit=1000)
            feedback.respond(db.session, author, comment, Disposition.ADOPTED, f"Answer {n}")
        db.session.commit()


def test_notices_are_read_from_the_records_in_a_fixed_number_of_queries_and_stored_nowhere(app, council):
    with app.app_context():
        tables = inspect(db.engine).get_table_names()
    assert not [name for name in tables if "notice" in name or "notification" in name]
    willow = _client(app, "willow")
    willow.get("/")  # the first page after sign-in saves the session once (its form token)
    willow.get("/notices")  # "seen up to" waits in the mix from now on, as in every count below
    key = _key(app, "willow")
    _answered_comments(app, council, key, "robin", 1)
    small = {url: _count_statements(app, willow, url) for url in ("/", "/notices")}
    assert "1 new response to your comments" in small["/"][1]
    _answered_comments(app, council, key, "robin", 15)
    large = {url: _count_statements(app, willow, url) for url in ("/", "/notices")}
    assert "15 new responses to your comments" in large["/"][1], "counted from the records since last seen"
    assert {url: len(s) for url, (s, _) in small.items()} == {url: len(s) for url, (s, _) in large.items()}
    writes = {s for s in large["/"][0] + large["/notices"][0] if s.startswith(("INSERT", "DELETE"))}
    assert writes <= {"INSERT mix_envelopes", "DELETE mix_envelopes"}, "nothing is stored for a notice"
    assert "UPDATE" not in large["/"][0]


def test_a_hidden_comment_is_known_only_to_its_writer_and_the_audit_names_only_the_reason(app, council):
    willow, river = _client(app, "willow"), _client(app, "river")
    comment_id = _post_comment(willow, council, "Something a moderator will hide.")
    _post_comment(river, council, "Something that stays.")
    moderator = _client(app, "mo")
    response = submit(
        moderator,
        f"/feedback/comments/{comment_id}/hide",
        {"reason": "identifying", "note": ""},
        form_url=f"{council.path}/comments",
    )
    assert response.status_code == 303
    assert "1 of your comments is hidden by moderation" in re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", willow.get("/").get_data(as_text=True))
    )
    assert "hidden by moderation" not in river.get("/").get_data(as_text=True)
    assert "Your comments hidden by moderation" in willow.get("/notices").get_data(as_text=True)
    assert "Your comments hidden by moderation" not in river.get("/notices").get_data(as_text=True)
    staff_view = moderator.get(f"{council.path}/comments?moderation=hidden").get_data(as_text=True)
    assert "Something a moderator will hide." in staff_view and "Willow" not in staff_view
    with app.app_context():
        [event_] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "comment.hidden")).all()
        assert (event_.detail, event_.subject_user_id, event_.actor_id) == ("identifying", None, _user("mo").id)
        assert db.session.get(Comment, comment_id).body == "Something a moderator will hide.", "hidden, not deleted"


# --- Review completions, the stipend ledger and payee details ------------------------------------


def test_payee_details_open_only_with_the_configured_key_and_only_for_their_person(app_factory, people):
    app = app_factory()
    people.app = app
    people.make("sam", Role.COORDINATOR)
    people.make("willow")
    people.make("river")
    willow = _client(app, "willow")
    submit(
        willow,
        "/stipends/payee",
        {"legal_name": "Amira Haddad", "details": "IBAN XX00 1", "address": ""},
        form_url="/stipends",
    )
    submit(
        willow,
        "/stipends/payee",
        {"legal_name": "Amira H. Haddad", "details": "Mobile 0700 000", "address": "3 Calm Road"},
        form_url="/stipends",
    )
    secret = app.config["PAYEE_DATA_KEY"]
    with app.app_context():
        person, other = _user("willow"), _user("river")
        [profile] = db.session.scalars(select(PayeeProfile)).all()
        assert profile.user_id == person.id, "replaced, not added"
        sealed = profile.sealed
        assert stipends.read_own_payee_profile(db.session, person, secret=secret) == {
            "legal_name": "Amira H. Haddad",
            "details": "Mobile 0700 000",
            "address": "3 Calm Road",
        }
    # AES-GCM under HKDF(PAYEE_DATA_KEY), bound to the person's id.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"council-payee").derive(secret.encode())
    assert b"Haddad" in AESGCM(key).decrypt(sealed[:12], sealed[12:], person.id.bytes)
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(sealed[:12], sealed[12:], other.id.bytes)
    # A copy of the database with another configuration, or the blob moved to another person, opens nothing.
    elsewhere = app_factory()  # same database, another PAYEE_DATA_KEY
    assert elsewhere.config["PAYEE_DATA_KEY"] != secret
    with elsewhere.app_context():
        with pytest.raises(KeyUnwrapError):
            stipends.read_own_payee_profile(db.session, _user("willow"), secret=elsewhere.config["PAYEE_DATA_KEY"])
    with app.app_context():
        db.session.add(PayeeProfile(user_id=_user("river").id, sealed=sealed))
        db.session.commit()
        with pytest.raises(KeyUnwrapError):
            stipends.read_own_payee_profile(db.session, _user("river"), secret=secret)


# --- What remains, honestly ------------------------------------------------------------------------


def test_a_live_session_row_says_only_that_someone_is_signed_in_and_is_written_once(app, people):
    people.make("willow")
    willow = _client(app, "willow")

    def rows():
        with app.app_context(), db.engine.connect() as connection:
            return connection.execute(select(ServerSession.__table__)).all()

    [first] = rows()
    willow.get("/account")
    willow.get("/")
    set_idle_deadline(app, willow, utcnow() + timedelta(minutes=2))
    willow.get("/account")
    assert rows() == [first], "page views move the idle deadline in the cookie, never the row"
    submit(willow, "/logout", {}, form_url="/account")
    assert rows() == [], "the row goes when the session ends"


def test_a_reading_place_is_one_sealed_row_under_an_id_derived_from_the_key(app, council):
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("sealed_state")}
        assert "reading_places" not in inspect(db.engine).get_table_names()
    assert columns == {"id", "sealed"}
    willow = _client(app, "willow")
    willow.get(council.section)
    willow.get(council.other_section)
    key = _key(app, "willow")
    flush_mix(app)
    with app.app_context():
        [place] = db.session.scalars(select(SealedState)).all()
        name = f"place:{council.revision_id}"
        assert place.id == _hmac(key, f"state:{name}").hex()
        assert state.load(db.session, key, name) == council.keys[2]
        # The value padded and sealed under the person's key, sealed again under the epoch's layer key.
        assert council.keys[2].encode() not in place.sealed and len(place.sealed) == 12 + (12 + 64 + 16) + 16


def test_posting_a_comment_dates_the_session_deadline_only_to_the_minute(app, council):
    willow = _client(app, "willow")
    willow.get(council.section)
    posted_at = utcnow()
    _post_comment(willow, council, "Posted at a moment nobody should be able to read back.")
    absolute = record_of(app, willow).expires_at
    assert (absolute.second, absolute.microsecond) == (0, 0), f"{absolute} dates the sign-in to the second"
    idle = datetime.fromtimestamp(state_of(app, willow)["i"] * 60, UTC)
    # Rounded up, never down: the idle window is at least the thirty minutes promised.
    assert idle - posted_at >= timedelta(minutes=30)


def _without_token(response, person_id) -> str:
    """The page with the person's id and the form token taken out: the token is signed with the time, so
    two pages a second apart differ there whatever they are about."""
    page = response.get_data(as_text=True).replace(str(person_id), "ID")
    return CSRF_PATTERN.sub('name="csrf_token" value="TOKEN"', page)


def test_a_page_about_a_person_answers_404_without_the_role_and_every_refusal_is_audited(app, people):
    sam_id = people.make("sam", Role.COORDINATOR)
    willow_id = people.make("willow", Role.ADVISOR, pseudonym="Willow")
    robin_id = people.make("robin", Role.AUTHOR)
    willow, robin = app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(robin, "robin")
    nobody = uuid.uuid4()
    for path in ("/admin/people/{}", "/admin/people/{}/payment"):
        # Someone who may not know whether the person exists gets the same answer for a real one and a made-up one.
        real, made_up = willow.get(path.format(sam_id)), willow.get(path.format(nobody))
        assert real.status_code == made_up.status_code == 404, path
        assert _without_token(real, sam_id) == _without_token(made_up, nobody)
        assert robin.get(path.format(willow_id)).status_code == 404
    # A page about no one in particular says plainly that the role is missing.
    assert willow.get("/admin/stipends").status_code == 403
    submit(willow, f"/admin/people/{sam_id}/access", {"active": "0"}, form_url="/", expect=404)
    with app.app_context():
        refusals = db.session.execute(
            select(AuditEvent.actor_id, AuditEvent.detail, AuditEvent.subject_user_id).where(
                AuditEvent.action == "access.refused"
            )
        ).all()
        assert db.session.get(User, sam_id).active
    assert sorted((actor, detail) for actor, detail, _ in refusals) == sorted(
        [(willow_id, "admin.person")] * 2
        + [(willow_id, "compensation.person_payment")] * 2
        + [(robin_id, "admin.person"), (robin_id, "compensation.person_payment")]
        + [(willow_id, "compensation.pay_run"), (willow_id, "admin.set_access")]
    )
    # Who tried and which kind of page: never whom the page was about.
    assert {subject for _, _, subject in refusals} == {None}
    sam = app.test_client()
    sign_in(sam, "sam")
    listing = sam.get("/admin/audit").get_data(as_text=True)
    assert "Page refused: the account lacks the role" in listing and "a stipends page" in listing

"""Second factors: an authenticator app and backup codes, added and used through the real forms."""

import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from council.accounts import second_factor
from council.accounts.models import Role, SecondFactor, SpentCode, User
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.extensions import db
from tests.conftest import PASSWORD, csrf_token, sign_in, submit
from tests.sessions import set_idle_deadline, state_of

SEED_PATTERN = re.compile(r'<code id="totp-seed">([A-Z2-7]+)</code>')
BACKUP_PATTERN = re.compile(r"<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})</code></li>")


def add_app(client) -> tuple[str, list[str]]:
    """Add an authenticator app through the form; returns its seed and the backup codes shown once."""
    page = client.get("/account/second-factor/app")
    seed = SEED_PATTERN.search(page.get_data(as_text=True)).group(1)
    # The QR code is drawn in the page: no script, no image request.
    assert '<svg width="' in page.get_data(as_text=True) and 'class="segno"' in page.get_data(as_text=True)
    assert "otpauth://totp/Council:" in page.get_data(as_text=True) and f"secret={seed}" in page.get_data(as_text=True)
    response = client.post(
        "/account/second-factor/app",
        data={"csrf_token": csrf_token(page), "seed": seed, "label": "phone", "code": pyotp.TOTP(seed).now()},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = BACKUP_PATTERN.findall(response.get_data(as_text=True))
    assert len(codes) == second_factor.BACKUP_CODE_COUNT
    return seed, codes


def code_at(seed: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(seed).at(time.time() + offset_steps * second_factor.TOTP_STEP_SECONDS)


def first_step(client, login_name: str, password: str = PASSWORD, *, expect: int = 200):
    """The password step; unless told otherwise it must lead to the second step's form."""
    response = submit(client, "/login", {"login_name": login_name, "password": password}, expect=expect)
    if expect == 200:
        assert 'action="/login/second-step"' in response.get_data(as_text=True), "the second step's form is shown"
    return response


def second_step(client, first, login_name: str, code: str, password: str = PASSWORD):
    return client.post(
        "/login/second-step",
        data={"csrf_token": csrf_token(first), "login_name": login_name, "password": password, "code": code},
    )


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


@pytest.fixture
def sam_with_app(app, people):
    people.make("sam", Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, "sam")
    seed, codes = add_app(client)
    submit(client, "/logout", {}, form_url="/account")
    return seed, codes


def test_a_changed_seed_is_refused_with_a_new_one_to_scan_and_nothing_kept(app, people):
    """The seed travels back in a hidden field: changed (not base32, too short, markup), the form answers with a
    new seed and QR code to scan, never an error page, and keeps no app; HEAD answers as GET does."""
    people.make("willow", Role.ADVISOR)
    client = app.test_client()
    sign_in(client, "willow")
    page = client.get("/account/second-factor/app")
    first_seed = SEED_PATTERN.search(page.get_data(as_text=True)).group(1)
    # Four: the fifth post, within the rate limit (five in five minutes), adds the app for real.
    for changed in ("not base32!", "ABC", "<script>alert(1)</script>", first_seed.lower()):
        response = client.post(
            "/account/second-factor/app",
            data={"csrf_token": csrf_token(page), "seed": changed, "label": "phone", "code": "123456"},
        )
        answer = response.get_data(as_text=True)
        assert response.status_code == 200, f"{changed!r} answered {response.status_code}"
        assert "That code does not match." in answer and 'class="segno"' in answer
        new_seed = SEED_PATTERN.search(answer).group(1)
        assert second_factor.is_new_seed_shape(new_seed) and new_seed not in (changed, first_seed)
        assert "<script>alert(1)" not in answer
    assert client.head("/account/second-factor/app").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SecondFactor)) == 0
    add_app(client)


def test_the_password_alone_no_longer_signs_in_and_keeps_nothing_waiting(app, sam_with_app):
    client = app.test_client()
    first = first_step(client, "sam")
    assert PASSWORD not in first.get_data(as_text=True)
    assert not is_signed_in(client)
    # The second step wants the password again: the code alone, with the name, is refused.
    seed, _ = sam_with_app
    assert second_step(client, first, "sam", code_at(seed), password="not the password").status_code == 401
    assert not is_signed_in(client)


def test_a_fresh_code_with_the_password_signs_in(app, sam_with_app):
    seed, _ = sam_with_app
    client = app.test_client()
    first = first_step(client, "sam")
    # A step ahead: the code of the step the app was added in is spent already.
    response = second_step(client, first, "sam", code_at(seed, 1))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert is_signed_in(client)


def test_wrong_old_and_replayed_codes_are_refused(app, sam_with_app):
    seed, _ = sam_with_app
    client = app.test_client()
    first = first_step(client, "sam")
    wrong = str((int(code_at(seed)) + 1) % 1_000_000).zfill(6)
    assert second_step(client, first, "sam", wrong).status_code == 401
    assert second_step(client, first, "sam", code_at(seed, -3)).status_code == 401
    assert not is_signed_in(client)
    code = code_at(seed, 1)  # a step ahead: the same code stays valid for this whole test
    assert second_step(client, first, "sam", code).status_code == 303
    thief = app.test_client()
    again = first_step(thief, "sam")
    replayed = second_step(thief, again, "sam", code)
    assert replayed.status_code == 401
    assert "already used" in replayed.get_data(as_text=True)
    assert not is_signed_in(thief)


def test_each_backup_code_works_once(app, sam_with_app):
    _, codes = sam_with_app
    client = app.test_client()
    first = first_step(client, "sam")
    assert second_step(client, first, "sam", codes[0].lower()).status_code == 303
    other = app.test_client()
    again = first_step(other, "sam")
    assert second_step(other, again, "sam", codes[0]).status_code == 401
    assert second_step(other, again, "sam", codes[1]).status_code == 303
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert f"Backup codes left: {second_factor.BACKUP_CODE_COUNT - 2}" in page


def test_code_attempts_are_rate_limited(app_factory, people):
    app = app_factory(SECOND_FACTOR_RATE_LIMIT="3 per 5 minutes")
    people.make("sam", Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, "sam")
    seed, _ = add_app(client)
    guesser = app.test_client()
    first = first_step(guesser, "sam")
    statuses = [second_step(guesser, first, "sam", "000000").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    # Even the right code is not tried once the limit is reached.
    assert second_step(guesser, first, "sam", code_at(seed)).status_code == 429


def test_seeds_are_sealed_and_spent_codes_do_not_name_their_owner(app, sam_with_app):
    seed, codes = sam_with_app
    with app.app_context():
        rows = db.session.scalars(select(SecondFactor)).all()
        assert {row.kind for row in rows} == {"totp", "backup"}
        for row in rows:
            assert seed.encode() not in row.sealed
            assert not any(code.replace("-", "").encode() in row.sealed for code in codes)
        spent = db.session.scalars(select(SpentCode.id)).all()
        sam_id = db.session.scalar(select(User.id).where(User.login_name == "sam"))
        assert spent and all(str(sam_id) not in tag and str(rows[0].id) not in tag for tag in spent)


def test_a_second_factor_is_removed_only_with_the_password_and_audited(app, people):
    people.make("sam", Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, "sam")
    add_app(client)
    with app.app_context():
        factor_id = db.session.scalar(select(SecondFactor.id).where(SecondFactor.kind == "totp"))
    url = f"/account/second-factor/{factor_id}/remove"
    wrong = submit(client, url, {"password": "not the password"}, expect=200)
    assert "That is not your current password." in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(SecondFactor.id).where(SecondFactor.id == factor_id)) is not None
    submit(client, url, {"password": PASSWORD})
    with app.app_context():
        # The backup codes went with the last app.
        assert db.session.scalars(select(SecondFactor)).all() == []
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("second_factor.%"))).all()
        assert sorted(actions) == ["second_factor.added", "second_factor.added", "second_factor.removed"]
    submit(client, "/logout", {}, form_url="/account")
    sign_in(client, "sam")  # the password alone again


def test_someone_elses_factor_cannot_be_removed(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("robin", Role.MODERATOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    add_app(sam)
    with app.app_context():
        factor_id = db.session.scalar(select(SecondFactor.id).where(SecondFactor.kind == "totp"))
    robin = app.test_client()
    sign_in(robin, "robin")
    assert robin.get(f"/account/second-factor/{factor_id}/remove").status_code == 404


def test_advisors_may_add_one_and_still_need_their_password(app, people):
    people.make("willow", Role.ADVISOR)
    client = app.test_client()
    sign_in(client, "willow")
    seed, _ = add_app(client)
    other = app.test_client()
    first = first_step(other, "willow", password="not the password", expect=401)
    assert "Sign in: second step" not in first.get_data(as_text=True)
    first = first_step(other, "willow")
    assert second_step(other, first, "willow", code_at(seed, 1)).status_code == 303
    # The participation key was unwrapped by the password on the second step: a comment-free page that needs it.
    assert other.get("/account").status_code == 200


def test_the_coordinator_requirement_sends_staff_to_set_one_up_first(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("robin", Role.MODERATOR)
    people.make("willow", Role.ADVISOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    add_app(sam)
    submit(sam, "/admin/security", {"require_second_factor": "y"})
    with app.app_context():
        assert second_factor.staff_must_have_one(db.session)
        assert (
            db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "second_factor.requirement_changed"))
            == "on"
        )
    robin = app.test_client()
    signed_in = sign_in(robin, "robin")
    assert robin.get(signed_in.headers["Location"]).headers["Location"] == "/account/second-factor"
    for path in ("/", "/account", "/policies/", "/account/password", "/feedback/mine"):
        response = robin.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/account/second-factor", path
    # The same when the person is read on their own (a state cookie without the hint that reads them with the
    # session record): the requirement travels with the person, whichever query found them.
    set_idle_deadline(app, robin, utcnow() + timedelta(minutes=10))
    assert "p" not in state_of(app, robin)
    response = robin.get("/account")
    assert response.status_code == 303 and response.headers["Location"] == "/account/second-factor"
    assert "The coordinator requires staff" in robin.get("/account/second-factor").get_data(as_text=True)
    add_app(robin)
    assert robin.get("/account").status_code == 200
    # Advisors are never required to add one.
    willow = app.test_client()
    sign_in(willow, "willow")
    assert willow.get("/account").status_code == 200


def test_only_a_coordinator_sets_the_requirement(app, people):
    people.make("robin", Role.MODERATOR)
    robin = app.test_client()
    sign_in(robin, "robin")
    assert robin.get("/admin/security").status_code == 403


def test_reading_payee_details_asks_for_the_second_factor_again(app, people):
    people.make("sam", Role.COORDINATOR)
    willow_id = people.make("willow", Role.ADVISOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    seed, backup_codes = add_app(sam)
    submit(sam, "/logout", {}, form_url="/account")
    first = first_step(sam, "sam")
    assert second_step(sam, first, "sam", backup_codes[0]).status_code == 303
    url = f"/admin/people/{willow_id}/payment"
    response = sam.get(url)
    assert response.status_code == 303 and response.headers["Location"] == "/account/second-factor/check"
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "payee.viewed")) is None
    check = sam.get("/account/second-factor/check")
    refused = sam.post("/account/second-factor/check", data={"csrf_token": csrf_token(check), "code": "000000"})
    assert refused.status_code == 401
    assert sam.get(url).status_code == 303
    good = sam.post("/account/second-factor/check", data={"csrf_token": csrf_token(check), "code": code_at(seed, 1)})
    assert good.status_code == 303 and good.headers["Location"] == url
    assert sam.get(url).status_code == 200
    # Fresh for a few minutes only.
    later = time.time() + app.config["SECOND_FACTOR_FRESH_MINUTES"] * 60 + 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(second_factor.time, "time", lambda: later)
        assert sam.get(url).status_code == 303


def test_the_check_opened_directly_leads_home_once_answered(app, sam_with_app):
    """Nothing asked for the check (a bookmark, or Back after it): a good code still just makes the factor
    fresh, and leads home."""
    seed, codes = sam_with_app
    sam = app.test_client()
    assert second_step(sam, first_step(sam, "sam"), "sam", codes[0]).status_code == 303
    check = sam.get("/account/second-factor/check")
    good = sam.post("/account/second-factor/check", data={"csrf_token": csrf_token(check), "code": code_at(seed, 1)})
    assert good.status_code == 303 and good.headers["Location"] == "/"


def test_without_a_second_factor_payee_details_open_as_before(app, people):
    people.make("sam", Role.COORDINATOR)
    willow_id = people.make("willow", Role.ADVISOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    assert sam.get(f"/admin/people/{willow_id}/payment").status_code == 200


SECRET = "a configured secret"


def test_seals_and_tags_are_the_documented_derivations():
    """Factors added before an upgrade must still open, and spent codes still be found, after it."""
    import hashlib
    import hmac
    import uuid

    from council.security import derive_key, unseal

    factor_id = uuid.UUID(int=7)
    tag_key = derive_key(SECRET.encode(), b"council-second-factor-tag")
    assert second_factor.tag(SECRET, "totp", "a", "b") == hmac.new(tag_key, b"totp:a:b", hashlib.sha256).hexdigest()
    sealed = second_factor.seal_factor(SECRET, factor_id, {"seed": "ABC"})
    assert unseal(derive_key(SECRET.encode(), b"council-second-factor-seal"), sealed, factor_id.bytes) == (
        b'{"seed": "ABC"}'
    )


def test_the_authenticator_link_names_the_person_and_its_code_is_drawn_in_black_on_white():
    seed = pyotp.random_base32()
    uri = second_factor.provisioning_uri(seed, "sam")
    assert uri == f"otpauth://totp/Council:sam?secret={seed}&issuer=Council"
    svg = second_factor.qr_code_svg(uri, "Scan me")
    assert "<title>Scan me</title>" in svg and 'fill="#fff"' in svg and 'stroke="#000"' in svg
    width = int(re.search(r'<svg width="(\d+)"', svg).group(1))
    assert width % 4 == 0 and width >= 4 * 45, "four pixels a module, a version big enough for an otpauth link"


@pytest.fixture
def staff(app, people):
    ids = {name: people.make(name, role) for name, role in (("sam", Role.COORDINATOR), ("robin", Role.AUTHOR))}
    with app.app_context():
        yield {name: db.session.get(User, user_id) for name, user_id in ids.items()}


def _events(action):
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.subject_user_id, AuditEvent.detail).where(AuditEvent.action == action)
    ).all()


def _add(user, label="  phone  ", at=None):
    seed = pyotp.random_base32()
    code = pyotp.TOTP(seed).at(at or time.time())
    return seed, second_factor.add_totp(db.session, user, seed, code, label, secret=SECRET)


def test_an_app_is_kept_with_its_label_and_the_code_that_proved_it_cannot_sign_in(staff):
    sam = staff["sam"]
    seed, factor = _add(sam)
    db.session.commit()
    assert (factor.label, factor.user_id) == ("phone", sam.id)
    assert _events("second_factor.added") == [(sam.id, sam.id, "totp")]
    assert not second_factor.check_code(db.session, sam, pyotp.TOTP(seed).now(), secret=SECRET)
    (spent,) = db.session.scalars(select(SpentCode)).all()
    assert spent.expires_at is not None and spent.expires_at.timestamp() > time.time()
    for typed in ("12345", "1234567", "12a456", ""):
        with pytest.raises(second_factor.NotAFactor):
            second_factor.add_totp(db.session, sam, seed, typed, "", secret=SECRET)


def test_a_code_is_checked_at_the_moment_asked_within_one_step_either_side(staff):
    sam = staff["sam"]
    seed, _factor = _add(sam)
    then = time.time() - 3600
    totp = pyotp.TOTP(seed)
    assert second_factor.check_code(db.session, sam, totp.at(then + 30), secret=SECRET, now=then)
    assert not second_factor.check_code(db.session, sam, totp.at(then + 30), secret=SECRET, now=then), "replayed"
    assert not second_factor.check_code(db.session, sam, totp.at(then + 60), secret=SECRET, now=then), "two ahead"
    assert not second_factor.check_code(db.session, sam, totp.at(then - 60), secret=SECRET, now=then), "two behind"
    assert second_factor.check_code(db.session, sam, " ".join(totp.at(then - 30)), secret=SECRET, now=then)
    assert not second_factor.check_code(db.session, staff["robin"], totp.at(then), secret=SECRET, now=then)
    step = int(then // 30) + 1
    spent = db.session.get(SpentCode, second_factor.tag(SECRET, "totp", str(_factor.id), str(step)))
    assert spent.expires_at.timestamp() == ((step + 2) * 30 // 60 + 1) * 60, "the next whole minute after its last use"
    db.session.commit()
    second_factor.purge_spent_codes(db.session)
    assert db.session.scalar(select(func.count()).select_from(SpentCode)) == 1, "only the setup code's step is left"


def test_removing_the_last_app_takes_only_that_persons_backup_codes_with_it(staff):
    sam, robin = staff["sam"], staff["robin"]
    _seed, first = _add(sam, "first")
    _seed, second = _add(sam, "second")
    extra = [_add(sam, f"extra {n}")[1] for n in range(3)]
    _add(robin)
    for person in (sam, robin):
        second_factor.replace_backup_codes(db.session, person, secret=SECRET)
    db.session.commit()
    apps = sorted([first, second, *extra], key=lambda f: f.id)
    shown = [(s.id, s.label, s.remaining) for s in second_factor.summaries(db.session, sam.id, secret=SECRET)]
    assert shown[1:] == [(f.id, f.label, None) for f in apps], "by kind, then by id"
    assert shown[0][1:] == ("", second_factor.BACKUP_CODE_COUNT)
    with pytest.raises(second_factor.NotAFactor):
        second_factor.remove_factor(db.session, robin, first.id)
    for factor in extra:
        second_factor.remove_factor(db.session, sam, factor.id)
    second_factor.remove_factor(db.session, sam, first.id)
    assert len(second_factor.factors_of(db.session, sam.id)) == 2, "the backup codes stay while an app is left"
    second_factor.remove_factor(db.session, sam, second.id)
    db.session.commit()
    assert second_factor.factors_of(db.session, sam.id) == []
    assert len(second_factor.factors_of(db.session, robin.id)) == 2
    assert _events("second_factor.removed") == [(sam.id, sam.id, "totp")] * 5


def test_the_requirement_covers_staff_without_an_app_and_is_audited_each_way(staff):
    sam, robin = staff["sam"], staff["robin"]

    def lacking(user):
        return db.session.scalar(select(second_factor.lacks_required_factor(user.id)))

    assert not lacking(robin), "nothing is required until the coordinator says so"
    second_factor.set_staff_requirement(db.session, sam, True)
    second_factor.set_staff_requirement(db.session, sam, True)
    assert lacking(robin) and lacking(sam)
    second_factor.replace_backup_codes(db.session, robin, secret=SECRET)
    assert lacking(robin), "backup codes only stand in for an app"
    _add(sam)
    assert lacking(robin) and not lacking(sam)
    second_factor.set_staff_requirement(db.session, sam, False)
    db.session.commit()
    assert not lacking(robin)
    assert _events("second_factor.requirement_changed") == [(sam.id, None, "on"), (sam.id, None, "off")]


def test_backup_codes_are_replaced_per_person_and_typed_any_way_a_person_might(staff):
    """Codes are read back from paper: any case, spaces or dashes, and O, I or L for the digits they resemble."""
    import hashlib
    import hmac

    from council.security import derive_key

    sam, robin = staff["sam"], staff["robin"]
    robins = second_factor.replace_backup_codes(db.session, robin, secret=SECRET)
    old = second_factor.replace_backup_codes(db.session, sam, secret=SECRET)
    codes = second_factor.replace_backup_codes(db.session, sam, secret=SECRET)
    db.session.commit()
    (sams,) = second_factor.factors_of(db.session, sam.id)
    assert sams.label == "" and len(second_factor.factors_of(db.session, robin.id)) == 1
    assert _events("second_factor.added") == [(robin.id, robin.id, "backup")] + [(sam.id, sam.id, "backup")] * 2
    assert not second_factor.check_code(db.session, sam, old[0], secret=SECRET), "the earlier set is gone"
    assert not second_factor.check_code(db.session, sam, robins[0], secret=SECRET)
    tag_key = derive_key(SECRET.encode(), b"council-second-factor-tag")
    typed = codes[0].replace("-", "")
    expected = hmac.new(tag_key, f"backup:{sams.id}:{typed}".encode(), hashlib.sha256).hexdigest()
    assert expected in second_factor.open_factor(SECRET, sams)["hashes"], "the documented derivation"
    lookalike = typed.lower().replace("0", "o").replace("1", "l")
    assert second_factor.check_code(db.session, sam, f" {lookalike[:5]} - {lookalike[5:]} ", secret=SECRET)
    assert not second_factor.check_code(db.session, sam, codes[0], secret=SECRET), "each code works once"
    spent_tag = hmac.new(tag_key, f"spent-backup:{expected}".encode(), hashlib.sha256).hexdigest()
    assert db.session.get(SpentCode, spent_tag) is not None, "a spent code is marked under the documented tag"
    assert second_factor.check_code(db.session, sam, codes[1].replace("1", "I"), secret=SECRET)
    assert second_factor.check_code(db.session, robin, robins[1], secret=SECRET)
    assert [s.remaining for s in second_factor.summaries(db.session, sam.id, secret=SECRET)] == [
        second_factor.BACKUP_CODE_COUNT - 2
    ]

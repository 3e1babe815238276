"""Coordinators invite; invited people register with a login name, a pseudonym and a password."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from council.accounts import service
from council.accounts.models import Invitation, Role, User
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.extensions import db
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import RECOVERY, normalise_recovery_code, unwrap_key
from tests.conftest import PASSWORD, TEST_SCRYPT_LOG_N, csrf_token, sign_in, submit

LINK = re.compile(r'value="(http://[^"]+/register/([^"]+))"')
RECOVERY_CODE = re.compile(r'id="recovery-code">([0-9A-Z-]+)<')


def invite(client, role="advisor", label="For R."):
    response = submit(client, "/admin/invitations", {"role": role, "label": label}, expect=200)
    match = LINK.search(response.get_data(as_text=True))
    assert match, "the invitation link is shown"
    return "/register/" + match.group(2)


def register(
    client, path, login_name="river", pseudonym="River", password="a good long password", *, refused=False, expect=200
):
    """Register through the invitation's form. Unless ``refused``, the new person must be shown their
    recovery code; a refused registration is the form again (200) or a dead link (``expect=410``)."""
    response = submit(
        client,
        path,
        {"login_name": login_name, "pseudonym": pseudonym, "password": password, "confirm": password},
        expect=expect,
    )
    if not refused and expect == 200:
        assert RECOVERY_CODE.search(response.get_data(as_text=True)), "the new person sees their recovery code"
    return response


def login_names(app):
    with app.app_context():
        return set(db.session.scalars(select(User.login_key)).all())


@pytest.fixture
def coordinator(app, people):
    people.make("sam", Role.COORDINATOR, pseudonym="Sam")
    client = app.test_client()
    sign_in(client, "sam")
    return client


def test_invited_person_registers_and_sees_their_recovery_code_once(app, coordinator):
    path = invite(coordinator)
    newcomer = app.test_client()
    page = newcomer.get(path)
    assert "You were invited to join as: Advisor." in page.get_data(as_text=True)
    assert "email" in page.get_data(as_text=True)  # says it is NOT asked for
    assert 'name="email"' not in page.get_data(as_text=True)
    response = register(newcomer, path)
    code = RECOVERY_CODE.search(response.get_data(as_text=True)).group(1)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == "river"))
        assert user.role_names == {"advisor"}
        assert code not in repr(user.__dict__)
        key = unwrap_key(user.key_wrapped_by_recovery, code, purpose=RECOVERY, user_id=user.id)
        assert key == unwrap_key(
            user.key_wrapped_by_password, "a good long password", purpose=PASSWORD_PURPOSE, user_id=user.id
        )
    # Signed in straight away; the code is never shown again.
    later = newcomer.get("/account/recovery-code").get_data(as_text=True)
    assert code not in later
    # Confirming that it was kept, with the form on the page that showed the code.
    response = newcomer.post("/account/recovery-code", data={"csrf_token": csrf_token(response), "code": code.lower()})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(User.recovery_confirmed).where(User.login_key == "river"))


def test_a_wrongly_copied_code_is_not_confirmed_and_a_new_one_can_be_made(app, coordinator):
    path = invite(coordinator)
    newcomer = app.test_client()
    first = RECOVERY_CODE.search(register(newcomer, path).get_data(as_text=True)).group(1)
    response = submit(newcomer, "/account/recovery-code", {"code": "AAAA-BBBB-CCCC-DDDD-EEEE"}, expect=200)
    assert "That does not match your recovery code" in response.get_data(as_text=True)
    response = submit(newcomer, "/account/recovery-code/new", {}, form_url="/account/recovery-code", expect=200)
    second = RECOVERY_CODE.search(response.get_data(as_text=True)).group(1)
    assert second != first
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == "river"))
        assert not service.confirm_recovery_code(user, first)
        assert service.confirm_recovery_code(user, second)


def test_an_invitation_works_once(app, coordinator):
    path = invite(coordinator)
    register(app.test_client(), path)
    assert login_names(app) == {"sam", "river"}
    again = app.test_client()
    response = again.get(path)
    assert response.status_code == 410
    assert "This invitation has already been used" in response.get_data(as_text=True)


def test_expired_revoked_and_made_up_invitations_say_so(app, coordinator):
    expired, revoked = invite(coordinator), invite(coordinator, label="second")
    with app.app_context():
        db.session.execute(
            update(Invitation).where(Invitation.label == "For R.").values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        invitation_id = db.session.scalar(select(Invitation.id).where(Invitation.label == "second"))
    submit(coordinator, f"/admin/invitations/{invitation_id}/revoke", {}, form_url="/admin/invitations")
    # "Withdrawn" has two meanings in English: an invitation's word agrees with it in languages with genders.
    french = coordinator.get("/admin/invitations", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Retirée" in french and not re.search(r"Retiré\s*<", french)
    visitor = app.test_client()
    assert "has expired" in visitor.get(expired).get_data(as_text=True)
    assert "withdrawn by the coordinator" in visitor.get(revoked).get_data(as_text=True)
    made_up = visitor.get("/register/not-a-real-token")
    assert made_up.status_code == 404 and "not valid" in made_up.get_data(as_text=True)
    # Posting to a dead link creates nobody.
    register(visitor, expired, login_name="late", expect=410)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.login_key == "late")) is None


def test_two_people_racing_for_one_link_make_one_account(app, coordinator):
    path = invite(coordinator)
    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf_token(c.get(path)) for c in clients]
    results = []

    def attempt(index):
        response = clients[index].post(
            path,
            data={
                "csrf_token": tokens[index],
                "login_name": f"racer{index}",
                "pseudonym": f"Racer {index}",
                "password": "a good long password",
                "confirm": "a good long password",
            },
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 410]
    with app.app_context():
        assert len(db.session.scalars(select(User).where(User.login_key.like("racer%"))).all()) == 1


@pytest.mark.parametrize(
    "login_name, pseudonym, field",
    [
        ("SAM", "Someone", "login_name"),
        ("ｓａｍ", "Someone", "login_name"),
        ("someone", "sam", "pseudonym"),
        ("someone", "ＳＡＭ", "pseudonym"),
    ],
)
def test_names_already_taken_are_refused_without_case_or_width(app, coordinator, login_name, pseudonym, field):
    path = invite(coordinator)
    response = register(app.test_client(), path, login_name=login_name, pseudonym=pseudonym, refused=True)
    body = response.get_data(as_text=True)
    assert login_names(app) == {"sam"}
    expected = "That login name is already taken" if field == "login_name" else "That pseudonym is already taken"
    assert expected in body
    assert f'value="{login_name}"' in body and f'value="{pseudonym}"' in body
    assert app.test_client().get(path).status_code == 200  # the invitation is still usable


@pytest.mark.parametrize(
    "login_name, pseudonym, message",
    [
        ("river", "Ri\u202everse", "Pseudonyms cannot contain hidden or control characters."),
        ("river", "\u2066River\u2069", "Pseudonyms cannot contain hidden or control characters."),
        ("riv\u200ber", "River", "Login names cannot contain hidden or control characters."),
        ("x'; DROP TABLE users;--", "River", "Use letters, numbers, dots, dashes or underscores"),
        ("ab", "River", "Login names need between 3 and 40 characters."),
        ("river", "R", "Please choose a pseudonym of at least 2 characters."),
        ("river", "R" * 41, "Pseudonyms can be at most 40 characters."),
    ],
)
def test_bad_names_are_refused_next_to_the_field_with_the_input_kept(app, coordinator, login_name, pseudonym, message):
    path = invite(coordinator)
    response = register(app.test_client(), path, login_name=login_name, pseudonym=pseudonym, refused=True)
    body = response.get_data(as_text=True)
    assert login_names(app) == {"sam"}
    assert message in body
    assert 'class="error-message"' in body
    assert app.test_client().get(path).status_code == 200


def test_short_or_mismatched_passwords_are_refused(app, coordinator):
    path = invite(coordinator)
    short = register(app.test_client(), path, password="short", refused=True)
    assert "Passwords need between 10 and 200 characters." in short.get_data(as_text=True)
    newcomer = app.test_client()
    response = submit(
        newcomer,
        path,
        {
            "login_name": "river",
            "pseudonym": "River",
            "password": "a good long password",
            "confirm": "another long password",
        },
        expect=200,
    )
    assert "The two passwords do not match." in response.get_data(as_text=True)
    assert login_names(app) == {"sam"}


def test_markup_in_a_pseudonym_is_shown_as_text(app, coordinator):
    path = invite(coordinator)
    register(app.test_client(), path, pseudonym='<script>alert("x")</script>')
    people_page = coordinator.get("/admin/people").get_data(as_text=True)
    assert "<script>alert" not in people_page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in people_page


def test_only_coordinators_manage_invitations_people_and_audit(app, people):
    people.make("willow", Role.ADVISOR)
    people.make("robin", Role.AUTHOR, Role.MODERATOR)
    for login_name in ("willow", "robin"):
        client = app.test_client()
        sign_in(client, login_name)
        for path in ("/admin/invitations", "/admin/people", "/admin/audit"):
            response = client.get(path)
            assert response.status_code == 403
            assert "This page is not open to you" in response.get_data(as_text=True)
        assert client.post("/admin/invitations", data={"role": "coordinator"}).status_code in (400, 403)


def test_staff_actions_are_audited_and_shown_to_coordinators(app, coordinator):
    path = invite(coordinator, role="author", label="New author")
    register(app.test_client(), path, login_name="robin", pseudonym="Robin")
    with app.app_context():
        robin_id = db.session.scalar(select(User.id).where(User.login_key == "robin"))
    submit(coordinator, f"/admin/people/{robin_id}", {"roles": ["author", "moderator"]})
    submit(coordinator, f"/admin/people/{robin_id}/access", {"active": "0"}, form_url=f"/admin/people/{robin_id}")
    with app.app_context():
        actions = sorted(db.session.scalars(select(AuditEvent.action)).all())
    assert actions == ["account.deactivated", "invitation.created", "invitation.used", "roles.changed"]
    page = coordinator.get("/admin/audit").get_data(as_text=True)
    for label in ("Invitation created", "Invitation used to register", "Roles changed", "Access turned off"):
        assert label in page
    # Each code by its label: the invitation's role and label, the registering person's role, the new roles.
    for detail in ("Policy author: New author", "<bdi>Policy author</bdi>", "Policy author and Moderator"):
        assert detail in page


def test_turning_off_access_signs_the_person_out_everywhere(app, coordinator, people):
    willow_id = people.make("willow")
    willow = app.test_client()
    sign_in(willow, "willow")
    submit(coordinator, f"/admin/people/{willow_id}/access", {"active": "0"}, form_url=f"/admin/people/{willow_id}")
    assert willow.get("/account").status_code == 302
    submit(app.test_client(), "/login", {"login_name": "willow", "password": PASSWORD}, expect=401)


def test_a_coordinator_cannot_remove_their_own_coordinator_role(app, coordinator):
    with app.app_context():
        sam_id = db.session.scalar(select(User.id).where(User.login_key == "sam"))
    response = submit(coordinator, f"/admin/people/{sam_id}", {"roles": ["advisor"]}, expect=200)
    assert "You cannot remove your own coordinator role" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, sam_id).role_names == {"coordinator"}


def test_a_person_can_hold_several_roles(app, coordinator, people):
    willow_id = people.make("willow")
    submit(coordinator, f"/admin/people/{willow_id}", {"roles": ["advisor", "translator"]})
    with app.app_context():
        assert db.session.get(User, willow_id).role_names == {"advisor", "translator"}


def test_recovery_code_normalisation_is_used_on_confirmation(app, people):
    people.make("willow")
    code = people.recovery_codes["willow"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == "willow"))
        assert service.confirm_recovery_code(user, normalise_recovery_code(code.replace("-", " ").lower()))


def test_an_invitation_form_without_its_optional_label_field_still_makes_an_invitation(app, coordinator):
    response = submit(coordinator, "/admin/invitations", {"role": "advisor"}, expect=200)
    assert LINK.search(response.get_data(as_text=True)), "the invitation link is shown"


def _events(*actions):
    return db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.subject_user_id, AuditEvent.detail)
        .where(AuditEvent.action.in_(actions))
        .order_by(AuditEvent.occurred_at, AuditEvent.action)
    ).all()


def test_each_staff_action_is_audited_with_who_did_it_to_whom(app, people):
    from council.own_data import service as own_data

    sam_id, kim_id = people.make("sam", Role.COORDINATOR), people.make("kim", Role.ADVISOR, pseudonym="Kim")
    with app.app_context():
        sam, kim = db.session.get(User, sam_id), db.session.get(User, kim_id)
        first, token = service.create_invitation(db.session, sam, Role.ADVISOR, label="  For R. ", valid_days=7)
        second, _ = service.create_invitation(db.session, sam, Role.AUTHOR, valid_days=7)
        third, _ = service.create_invitation(db.session, sam, Role.ADVISOR, valid_days=7)
        first.created_at -= timedelta(minutes=1)
        service.revoke_invitation(db.session, sam, second)
        with pytest.raises(service.InvitationUnusable) as refused:
            service.revoke_invitation(db.session, sam, second)
        assert refused.value.args == ("revoked",)
        river = service.register(
            db.session, token, login_name="river", pseudonym="Aa River", password=PASSWORD, log_n=TEST_SCRYPT_LOG_N
        ).user
        db.session.commit()
        assert (first.label, first.used_by_id) == ("For R.", river.id)
        assert (third.used_at, third.revoked_at) == (None, None), "only the invitation used is claimed"
        assert [i.id for i in service.list_invitations(db.session)][-1] == first.id, "newest first"
        service.set_roles(db.session, sam, sam, {Role.COORDINATOR, Role.AUTHOR})
        assert sam.role_names == {"coordinator", "author"}, "a coordinator may add a role of their own"
        assert [p.pseudonym for p in service.list_people(db.session)][:2] == ["Aa River", "Kim"]
        service.set_roles(db.session, sam, kim, {Role.ADVISOR, Role.TRANSLATOR})
        service.set_active(db.session, sam, kim, False)
        service.set_active(db.session, sam, kim, True)
        with pytest.raises(service.AccountError):
            service.set_active(db.session, sam, sam, False)
        db.session.commit()
        assert _events("invitation.created", "invitation.revoked", "invitation.used") == [
            ("invitation.created", sam_id, None, "advisor For R."),
            ("invitation.created", sam_id, None, "author"),
            ("invitation.created", sam_id, None, "advisor"),
            ("invitation.revoked", sam_id, None, "author"),
            ("invitation.used", None, river.id, "advisor"),
        ]
        assert _events("roles.changed", "account.deactivated", "account.reactivated") == [
            ("roles.changed", sam_id, sam_id, "author, coordinator"),
            ("roles.changed", sam_id, kim_id, "advisor, translator"),
            ("account.deactivated", sam_id, kim_id, ""),
            ("account.reactivated", sam_id, kim_id, ""),
        ]

        own_data.close_account(db.session, kim, PASSWORD, log_n=TEST_SCRYPT_LOG_N, label_locale="en")
        db.session.commit()
        assert service.is_closed(db.session, kim) and not service.is_closed(db.session, river)
        with pytest.raises(service.AccountClosed):
            service.set_active(db.session, sam, kim, True)
        with pytest.raises(service.AccountClosed):
            service.set_roles(db.session, sam, kim, {Role.AUTHOR})
        service.set_active(db.session, sam, river, False)
        service.set_active(db.session, sam, river, True)
        service.set_roles(db.session, sam, river, {Role.AUTHOR})
        db.session.commit()
        assert river.active and river.role_names == {"author"}


def test_recovery_returns_the_same_key_asks_for_the_new_code_to_be_confirmed_and_refuses_a_turned_off_account(
    app, people
):
    sam_id, kim_id = people.make("sam", Role.COORDINATOR), people.make("kim", Role.ADVISOR)
    with app.app_context():
        kim = db.session.get(User, kim_id)
        key = unwrap_key(kim.key_wrapped_by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=kim.id)
        code = service.replace_recovery_code(kim, key, log_n=TEST_SCRYPT_LOG_N)
        assert service.confirm_recovery_code(kim, code) and kim.recovery_confirmed
        recovered = service.recover(db.session, "kim", code, "a new long password", log_n=TEST_SCRYPT_LOG_N)
        assert recovered.participation_key == key and recovered.recovery_code != code
        assert kim.recovery_confirmed is False, "the new code has not been confirmed yet"
        service.set_active(db.session, db.session.get(User, sam_id), kim, False)
        with pytest.raises(service.RecoveryFailed):
            service.recover(db.session, "kim", recovered.recovery_code, "another password", log_n=TEST_SCRYPT_LOG_N)


def test_the_first_coordinator_is_recorded_as_made_by_the_command_line(app):
    with app.app_context():
        made = service.create_coordinator(
            db.session, login_name="sam", pseudonym="Sam", password=PASSWORD, log_n=TEST_SCRYPT_LOG_N
        ).user
        db.session.commit()
        assert made.role_names == {"coordinator"}
        assert _events("coordinator.created") == [("coordinator.created", None, made.id, "")]

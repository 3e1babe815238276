"""The participation key: wrapped under the password and the recovery code, never readable otherwise."""

import uuid

import pytest

from council import security
from council.security import (
    PASSWORD,
    RECOVERY,
    KeyUnwrapError,
    derive_key,
    new_participation_key,
    new_recovery_code,
    normalise_recovery_code,
    participation_tag,
    seal,
    unseal,
    unwrap_key,
    wrap_key,
)

LOG_N = 12


@pytest.fixture
def user_id():
    return uuid.uuid4()


def test_wrapped_key_unwraps_with_the_right_password(user_id):
    key = new_participation_key()
    wrapped = wrap_key(key, "a long passphrase", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    assert key not in wrapped
    assert unwrap_key(wrapped, "a long passphrase", purpose=PASSWORD, user_id=user_id) == key


def test_wrong_password_fails(user_id):
    wrapped = wrap_key(new_participation_key(), "a long passphrase", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    with pytest.raises(KeyUnwrapError):
        unwrap_key(wrapped, "a long passphrasf", purpose=PASSWORD, user_id=user_id)


def test_every_byte_of_the_wrapped_key_is_protected(user_id):
    wrapped = wrap_key(new_participation_key(), "a long passphrase", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        with pytest.raises(KeyUnwrapError):
            unwrap_key(bytes(tampered), "a long passphrase", purpose=PASSWORD, user_id=user_id)


def test_truncated_or_empty_blobs_fail_cleanly(user_id):
    wrapped = wrap_key(new_participation_key(), "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    for blob in (b"", wrapped[:3], wrapped[:30], wrapped[:-1]):
        with pytest.raises(KeyUnwrapError):
            unwrap_key(blob, "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id)


def test_a_key_wrapped_for_one_person_or_purpose_does_not_open_for_another(user_id):
    wrapped = wrap_key(new_participation_key(), "shared secret", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    with pytest.raises(KeyUnwrapError):
        unwrap_key(wrapped, "shared secret", purpose=PASSWORD, user_id=uuid.uuid4())
    with pytest.raises(KeyUnwrapError):
        unwrap_key(wrapped, "shared secret", purpose=RECOVERY, user_id=user_id)


def test_format_is_versioned_and_records_its_cost(user_id):
    wrapped = wrap_key(new_participation_key(), "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    assert wrapped[0] == 1
    assert wrapped[1] == LOG_N
    # A key wrapped at one cost still opens after the configured cost changes.
    assert len(unwrap_key(wrapped, "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id)) == 32


def test_absurd_cost_in_a_tampered_header_is_refused_before_any_work(user_id):
    wrapped = bytearray(
        wrap_key(new_participation_key(), "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    )
    wrapped[1] = 40
    with pytest.raises(KeyUnwrapError):
        unwrap_key(bytes(wrapped), "pw-pw-pw-pw", purpose=PASSWORD, user_id=user_id)


def test_rewrapping_under_a_new_password_keeps_the_same_key(user_id):
    key = new_participation_key()
    old = wrap_key(key, "first password", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    unwrapped = unwrap_key(old, "first password", purpose=PASSWORD, user_id=user_id)
    new = wrap_key(unwrapped, "second password", purpose=PASSWORD, user_id=user_id, log_n=LOG_N)
    assert unwrap_key(new, "second password", purpose=PASSWORD, user_id=user_id) == key
    with pytest.raises(KeyUnwrapError):
        unwrap_key(new, "first password", purpose=PASSWORD, user_id=user_id)


def test_recovery_code_opens_the_same_key_however_it_is_typed(user_id):
    key = new_participation_key()
    code = new_recovery_code()
    wrapped = wrap_key(key, code, purpose=RECOVERY, user_id=user_id, log_n=LOG_N)
    typed = " " + code.lower().replace("-", " ") + " "
    assert unwrap_key(wrapped, normalise_recovery_code(typed), purpose=RECOVERY, user_id=user_id) == key


def test_recovery_codes_are_long_random_and_unambiguous():
    codes = {new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4, 4]
        assert not set(code) & set("ILOU")


def test_look_alike_letters_are_read_as_digits():
    assert normalise_recovery_code("oil0-abcd") == "0110-ABCD"


def test_tags_differ_per_key_purpose_and_reference():
    key, other_key = new_participation_key(), new_participation_key()
    ref = uuid.uuid4()
    tag = participation_tag(key, "comment", ref)
    assert tag == participation_tag(key, "comment", ref)
    assert tag != participation_tag(other_key, "comment", ref)
    assert tag != participation_tag(key, "ballot", ref)
    assert tag != participation_tag(key, "comment", uuid.uuid4())


def test_sealed_values_need_the_same_secret_and_context():
    secret, key = new_participation_key(), new_participation_key()
    sealed = seal(secret, key, b"record-1")
    assert unseal(secret, sealed, b"record-1") == key
    with pytest.raises(KeyUnwrapError):
        unseal(new_participation_key(), sealed, b"record-1")
    with pytest.raises(KeyUnwrapError):
        unseal(secret, sealed, b"record-2")


# These outputs open sessions, pending comments, payee details, digest addresses and backups
# already sealed: if one changes, everything sealed before the change is lost.
def test_derived_keys_are_pinned():
    assert derive_key(b"secret key", b"council-session-seal").hex() == (
        "80366276414a8af6568ca653660054cf7e0c704ec5402d5878e6f8ff94b2c312"
    )
    assert derive_key(b"\x02" * 32, b"council-backup-v1 file key", salt=b"\x01" * 32).hex() == (
        "5fdffd223117a03027a6cd2aae589d7140ac04a4e498319f38f5bd74fd21d5c3"
    )


def test_derived_keys_differ_by_purpose_and_length():
    assert derive_key(b"secret", b"council-payee") != derive_key(b"secret", b"council-digest")
    assert len(derive_key(b"secret", b"council-payee", 16)) == 16


PINNED_USER = uuid.UUID("12345678-1234-5678-1234-567812345678")
PINNED_KEY = bytes(range(32))


# Every advisor's key is stored wrapped in this format, at the cost of the day it was wrapped: one wrapped
# by an earlier release, at the lowest cost accepted, must still open.
def test_a_key_wrapped_by_an_earlier_release_still_opens():
    wrapped = bytes.fromhex(
        "010a08012e57203cfd3809debf53aa90aa21d5e2c72782c64330c8eb407e4f3e7f220a4bf11919dad66a0d98604567d4"
        "6a8772327d10ab858dd26be78f15f3b646a145881da5320a880f8cfe486c9846"
    )
    assert unwrap_key(wrapped, "correct horse battery", purpose=PASSWORD, user_id=PINNED_USER) == PINNED_KEY


# The highest cost accepted (2^20, a gibibyte of memory and seconds of work): a key wrapped at it opens.
def test_a_key_wrapped_at_the_highest_cost_accepted_still_opens():
    wrapped = bytes.fromhex(
        "01140801b2c4e802dfd7a02ec0a239ee100b4275cd970b6a795b573a4d0dd7c1212ade196c904a6ab1e577f6b010768039127b45"
        "ae9989ee5425f11ce3b6870f32d2da5116a02255da16cc2bc4595104"
    )
    assert unwrap_key(wrapped, "correct horse battery", purpose=PASSWORD, user_id=PINNED_USER) == PINNED_KEY


# A tampered header asking for more work is refused before any is done: otherwise one stored row could make
# every sign-in to that account cost the server gigabytes.
@pytest.mark.parametrize("log_n", [9, 21, 31])
def test_a_header_asking_for_a_cost_outside_the_accepted_range_is_refused_without_any_work(monkeypatch, log_n):
    wrapped = bytearray(wrap_key(PINNED_KEY, "correct horse battery", purpose=PASSWORD, user_id=PINNED_USER, log_n=10))
    wrapped[1] = log_n

    def derived(*_arguments):
        raise AssertionError("scrypt ran for a header outside the accepted range")

    monkeypatch.setattr(security, "_derive", derived)
    with pytest.raises(KeyUnwrapError):
        unwrap_key(bytes(wrapped), "correct horse battery", purpose=PASSWORD, user_id=PINNED_USER)


# Tags find an advisor's own comments and ballots: one computed differently would lose them all.
def test_participation_tags_are_pinned():
    assert participation_tag(PINNED_KEY, "comment", PINNED_USER).hex() == (
        "4207d388ef9a13adf7791395757bbb5fdf9eda51777858af6dea376020450b95"
    )


def test_a_sealed_value_cut_short_is_refused_like_a_wrong_secret():
    secret = new_participation_key()
    sealed = seal(secret, b"payee details", b"record-1")
    for cut in (b"", sealed[:5], sealed[:-1]):
        with pytest.raises(KeyUnwrapError):
            unseal(secret, cut, b"record-1")

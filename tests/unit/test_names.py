from council.accounts.names import comparison_key, is_valid_login_name, tidy_pseudonym


def test_names_compare_without_case_or_width():
    assert comparison_key("Amira") == comparison_key("AMIRA") == comparison_key("ａｍｉｒａ")
    assert comparison_key("Straße") == comparison_key("STRASSE")


def test_login_names_allow_letters_of_any_script_but_no_spaces_or_symbols():
    assert is_valid_login_name("noor.h")
    assert is_valid_login_name("نور")
    assert not is_valid_login_name("noor h")
    assert not is_valid_login_name("x'; DROP TABLE users;--")
    assert not is_valid_login_name("<script>")


def test_pseudonyms_are_tidied():
    assert tidy_pseudonym("  River   Stone ") == "River Stone"

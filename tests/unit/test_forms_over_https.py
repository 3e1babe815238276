"""Forms work over HTTPS although pages send no Referer (found by `make audit`, which serves over HTTPS)."""

from tests.conftest import PASSWORD, csrf_token

HTTPS = "https://localhost"


def test_sign_in_works_over_https_without_a_referer(client, people):
    people.make("advisor1")
    page = client.get("/login", base_url=HTTPS)
    response = client.post(
        "/login", base_url=HTTPS, data={"csrf_token": csrf_token(page), "login_name": "advisor1", "password": PASSWORD}
    )
    assert "HTTP_REFERER" not in response.request.environ
    assert response.status_code == 303, response.get_data(as_text=True)

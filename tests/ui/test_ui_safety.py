"""The web page's safety: headers on every answer, strict cookies, CSRF (a cross-site form post is refused),
the session token useless elsewhere, sign-in and sign-out, and only what the key may see and do."""

import hashlib
import re

import pytest

from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.audit import audit_lines
from tests.support.auth import basic, create_key
from tests.support.content import push_full_image
from tests.ui.conftest import csrf_of, sign_in

ADMIN = basic(ADMIN_ID, ADMIN_SECRET)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def assert_secured(response):
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"


@pytest.mark.parametrize("path,status", [("/ui/", 200), ("/ui/signin", 200), ("/ui/r/team/app", 200),
                                         ("/ui/r/team/app/-/manifests/v1", 200), ("/ui/r/team/none", 404),
                                         ("/ui/no/such/page", 404), ("/ui/r/Bad..Name", 400),
                                         ("/ui/admin/keys", 200)])
def test_every_page_and_error_carries_the_security_headers(ui, path, status):
    push_full_image(ui, "team/app", "v1")
    response = ui.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert_secured(response)
    assert response.headers["cache-control"] == "no-store"
    assert "Traceback" not in response.text


def test_https_pages_ask_for_strict_transport(ui):
    assert ui.get("/ui/").headers["strict-transport-security"] == "max-age=31536000"


def test_the_registry_api_carries_none_of_the_page_headers(ui):
    response = ui.get("/v2/")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert "set-cookie" not in response.headers


def test_static_files_have_content_hashed_names_and_are_cached_for_a_year(ui):
    page = ui.get("/ui/").text
    names = re.findall(r'/ui/static/([\w.-]+)', page)
    assert {n.split(".")[0] + "." + n.split(".")[-1] for n in names} == {"app.css", "app.js", "icon.svg"}
    for name in names:
        response = ui.get(f"/ui/static/{name}")
        assert response.status_code == 200
        assert name.split(".")[1] == hashlib.sha256(response.content).hexdigest()[:12]
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert_secured(response)
    assert ui.get("/ui/static/app.000000000000.css").status_code == 404
    assert ui.get("/ui/static/app.css").status_code == 404


def test_sign_in_keeps_a_session_token_in_a_strict_cookie_and_no_secret_anywhere(secured):
    response = sign_in(secured)
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("dockyard_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/ui/", "Max-Age=900"):
        assert attribute in session.split("; ")
    csrf = next(c for c in cookies if c.startswith("dockyard_csrf="))
    assert {"HttpOnly", "Secure", "SameSite=Strict"} <= set(csrf.split("; "))
    assert ADMIN_SECRET not in " ".join(cookies) + response.headers["location"]
    assert response.headers["location"] == "/ui/"
    page = secured.get("/ui/")
    assert page.status_code == 200 and ADMIN_ID in page.text and "Sign out" in page.text


def test_a_wrong_secret_is_refused_with_a_readable_page_and_no_session(secured):
    response = secured.post("/ui/signin", data={"key_id": ADMIN_ID, "secret": "dys_wrong", "csrf": csrf_of(secured)})
    assert response.status_code == 401
    assert "wrong secret" in response.text
    assert not any(c.startswith("dockyard_session=") and "Max-Age=900" in c
                   for c in response.headers.get_list("set-cookie"))
    assert secured.get("/ui/", follow_redirects=False).status_code == 303


def test_guessing_a_keys_secret_on_the_sign_in_form_is_braked(secured, auth_registry):
    from dockyard.auth import throttle

    wrong = {"key_id": ADMIN_ID, "secret": "dys_wrong", "csrf": csrf_of(secured)}
    for _ in range(throttle.FREE_FAILURES + 1):
        assert secured.post("/ui/signin", data=wrong).status_code == 401
    braked = secured.post("/ui/signin", data={**wrong, "secret": ADMIN_SECRET})  # even the right secret waits
    assert braked.status_code == 429 and int(braked.headers["retry-after"]) >= 1
    assert "too many failed attempts" in braked.text and 'id="secret"' in braked.text
    auth_registry.auth.throttle.succeeded(ADMIN_ID)


def test_pages_without_a_session_lead_to_the_sign_in_form(secured):
    response = secured.get("/ui/r/team/app?page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/signin?next=%2Fui%2Fr%2Fteam%2Fapp%3Fpage%3D2"


@pytest.mark.parametrize("target", ["//evil.test/ui/", "https://evil.test/", "/ui/\\evil", "/v2/"])
def test_sign_in_never_sends_the_browser_off_the_page(secured, target):
    response = secured.post("/ui/signin", data={"key_id": ADMIN_ID, "secret": ADMIN_SECRET,
                                                "csrf": csrf_of(secured), "next": target}, follow_redirects=False)
    assert response.headers["location"] == "/ui/"


def _delete_form(client):
    return {"csrf": csrf_of(client, "/ui/r/team/app/-/delete/v1")}


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.test"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}])
def test_a_cross_site_form_post_is_refused(secured, admin_ui, headers):
    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    response = admin_ui.post("/ui/r/team/app/-/delete/v1", data=_delete_form(admin_ui), headers=headers)
    assert response.status_code == 403
    assert "another site" in response.text
    assert_secured(response)
    assert secured.get("/v2/team/app/tags/list", headers=ADMIN).json()["tags"] == ["v1"]


def test_a_form_post_without_the_pages_csrf_value_is_refused(secured, admin_ui):
    """What a cross-site form can send: the session cookie rides along (with SameSite off), the value does not."""
    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    for form in ({}, {"csrf": "guessed"}):
        response = admin_ui.post("/ui/r/team/app/-/delete/v1", data=form)
        assert response.status_code == 403
    assert secured.get("/v2/team/app/tags/list", headers=ADMIN).json()["tags"] == ["v1"]


def test_a_csrf_value_planted_before_sign_in_is_worthless_after(secured):
    planted = csrf_of(secured)
    sign_in(secured)
    secured.cookies.set("dockyard_csrf", planted, domain="registry.test", path="/ui/")
    response = secured.post("/ui/signout", data={"csrf": planted})
    assert response.status_code == 403
    assert "does not belong" in response.text


def test_the_same_origin_form_post_works_and_is_audited(secured, admin_ui):
    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    with audit_lines() as lines:
        response = admin_ui.post("/ui/r/team/app/-/delete/v1", data=_delete_form(admin_ui),
                                 headers={"Origin": "https://registry.test", "Sec-Fetch-Site": "same-origin"},
                                 follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/r/team/app?deleted=v1"
    assert secured.get("/v2/team/app/tags/list", headers=ADMIN).json()["tags"] == []
    [line] = [line for line in lines if line["event"] == "manifest.delete"]
    assert (line["path"], line["who"], line["repository"], line["reference"]) == (
        "/ui/r/team/app/-/delete/v1", ADMIN_ID, "team/app", "v1")


def test_the_session_token_is_no_registry_token(secured, admin_ui):
    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    token = admin_ui.cookies.get("dockyard_session")
    response = secured.get("/v2/team/app/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_sign_out_ends_the_session(admin_ui):
    response = admin_ui.post("/ui/signout", data={"csrf": csrf_of(admin_ui, "/ui/")}, follow_redirects=False)
    assert response.status_code == 303
    assert any(c.startswith("dockyard_session=;") and "Max-Age=0" in c for c in response.headers.get_list("set-cookie"))
    assert admin_ui.get("/ui/", follow_redirects=False).status_code == 303


def test_a_key_sees_only_what_it_may_pull_and_is_offered_only_what_it_may_do(secured):
    for repo in ("team/app", "other/secret"):
        push_full_image(secured, repo, "v1", headers=ADMIN)
    key_id, secret = create_key(secured, ADMIN, "reader", "team/*=pull")
    sign_in(secured, key_id, secret)
    listing = secured.get("/ui/")
    assert "team/app" in listing.text and "other/secret" not in listing.text
    assert "/ui/admin/" not in listing.text
    tags = secured.get("/ui/r/team/app")
    assert tags.status_code == 200 and "Delete" not in tags.text
    assert "docker pull registry.test/team/app:v1" in tags.text
    for path in ("/ui/r/other/secret", "/ui/r/other/secret/-/manifests/v1", "/ui/r/team/app/-/delete/v1",
                 "/ui/admin/keys"):
        response = secured.get(path)
        assert response.status_code == 403, path
        assert "may not" in response.text or "not an admin" in response.text
    response = secured.post("/ui/r/team/app/-/delete/v1", data={"csrf": csrf_of(secured, "/ui/")})
    assert response.status_code == 403
    assert secured.get("/v2/team/app/tags/list", headers=ADMIN).json()["tags"] == ["v1"]


def test_anonymous_visitors_see_public_repositories_only(secured):
    for repo in ("public/tool", "team/app"):
        push_full_image(secured, repo, "v1", headers=ADMIN)
    assert secured.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]}, headers=ADMIN).status_code == 200
    listing = secured.get("/ui/")
    assert listing.status_code == 200
    assert "public/tool" in listing.text and "team/app" not in listing.text and "Sign in" in listing.text
    assert secured.get("/ui/r/team/app", follow_redirects=False).status_code == 303


def test_a_revoked_keys_session_ends_at_its_next_renewal(secured, monkeypatch):
    from dockyard.ui import session

    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    key_id, secret = create_key(secured, ADMIN, "soon-revoked", "team/*=pull")
    sign_in(secured, key_id, secret)
    assert secured.get("/ui/r/team/app").status_code == 200
    assert secured.delete(f"/dockyard/v1/keys/{key_id}", headers=ADMIN).status_code == 200
    monkeypatch.setattr(session, "RENEW_AFTER", -1)  # the token is due for renewal
    assert secured.get("/ui/r/team/app", follow_redirects=False).status_code == 303

"""Governance on the page: immutability rules set, listed and deleted from the admin section (audited like
the API), and their effect shown where people look: a badge on immutable tags, no delete offered for them,
and a refusal that names the rule."""

from tests.support.audit import audit_lines
from tests.support.content import push_full_image
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_pages import text


def test_immutability_rules_are_set_listed_and_deleted(ui):
    csrf = csrf_of(ui, "/ui/admin/immutability")
    assert "Immutable tags" in ui.get("/ui/admin/").text
    with audit_lines() as lines:
        saved = ui.post("/ui/admin/immutability", data={"csrf": csrf, "pattern": "prod/*", "mutable": "latest, dev-*"})
    assert saved.status_code == 200 and "Saved the rule for prod/*" in text(saved.text)
    assert ui.get("/dockyard/v1/immutability").json()["rules"][0] == {
        "pattern": "prod/*", "mutable_tags": ["latest", "dev-*"],
        "created_at": ui.get("/dockyard/v1/immutability").json()["rules"][0]["created_at"]}
    assert "latest dev-*" in text(saved.text)
    refused = ui.post("/ui/admin/immutability", data={"csrf": csrf, "pattern": "Prod/*", "mutable": ""})
    assert refused.status_code == 400 and "invalid repository glob" in text(refused.text)
    assert 'value="Prod/*"' in refused.text  # the form keeps what was typed
    confirm = text(ui.get("/ui/admin/immutability/delete", params={"pattern": "prod/*"}).text)
    assert "Delete the rule for prod/*?" in confirm
    assert ui.get("/ui/admin/immutability/delete", params={"pattern": "none/*"}).status_code == 404
    with audit_lines() as more:
        deleted = ui.post("/ui/admin/immutability/delete", data={"csrf": csrf, "pattern": "prod/*"})
    assert "Deleted the rule for prod/*" in text(deleted.text)
    assert ui.get("/dockyard/v1/immutability").json()["rules"] == []
    assert [line["event"] for line in lines + more] == ["immutability.set", "immutability.delete"]


def test_immutable_tags_are_marked_offer_no_delete_and_a_forced_delete_names_the_rule(ui):
    digest = push_full_image(ui, "prod/app", "1.0")
    push_full_image(ui, "prod/app", "latest")
    csrf = csrf_of(ui, "/ui/admin/immutability")
    ui.post("/ui/admin/immutability", data={"csrf": csrf, "pattern": "prod/*", "mutable": "latest"})
    tags = ui.get("/ui/r/prod/app").text
    assert tags.count('class="badge lock"') == 1 and "immutable: rule prod/*" in tags
    assert "/-/delete/latest" in tags and "/-/delete/1.0" not in tags
    image = text(ui.get("/ui/r/prod/app/-/manifests/1.0").text)
    assert "1.0 immutable" in image and "it cannot be deleted" in image and "Delete tag 1.0" not in image
    confirm = ui.get("/ui/r/prod/app/-/delete/1.0").text
    assert "Tag 1.0 cannot be deleted" in text(confirm) and "immutable under the rule prod/*" in text(confirm)
    assert "Delete tag 1.0</button>" not in confirm
    forced = ui.post("/ui/r/prod/app/-/delete/1.0", data={"csrf": csrf})
    assert forced.status_code == 403
    assert f"tag 1.0 of prod/app is immutable (rule prod/*): it points to {digest}" in text(forced.text)
    assert ui.get("/v2/prod/app/tags/list").json()["tags"] == ["1.0", "latest"]
    whole = text(ui.get(f"/ui/r/prod/app/-/delete/{digest}").text)
    assert "cannot be deleted" in whole and "Tag 1.0 is immutable" in whole and "and so the manifest" in whole

"""What the pages show: repositories with their figures, tags newest first with pull commands, an image's
layers and config, an index's platforms, referrers as a tree, and deletes that name what goes."""

import re

from tests.support.audit import audit_lines
from tests.support.content import push_full_image, push_index, push_referrer
from tests.ui.conftest import csrf_of


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_repository_list_shows_figures_searches_and_pages(ui, monkeypatch):
    from dockyard.registry import browse

    for repo in ("team/app", "team/web", "tools/ci"):
        push_full_image(ui, repo, "v1")
    push_full_image(ui, "team/app", "v2", layers=(b"X" * 5000,))
    page = text(ui.get("/ui/").text)
    assert re.search(r"team/app 2 \d", page) and "tools/ci" in page
    assert "Storage per repository" in page
    searched = text(ui.get("/ui/", params={"q": "TEAM/"}).text)
    assert "team/app" in searched and "team/web" in searched and "tools/ci" not in searched
    assert "No repository matches" in ui.get("/ui/", params={"q": "nothing"}).text
    monkeypatch.setattr(browse, "PAGE", 2)
    first = ui.get("/ui/").text
    assert "team/app" in first and "team/web" in first and "tools/ci" not in first
    more = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    assert "tools/ci" in ui.get(more).text


def test_a_repository_lists_tags_with_digest_size_platform_and_pull_commands(ui):
    digest = push_full_image(ui, "team/app", "v1")
    push_index(ui, "team/app", "multi")
    page = ui.get("/ui/r/team/app").text
    plain = text(page)
    assert f'data-copy="{digest}"' in page and digest[:19] in plain
    assert "docker pull registry.test/team/app:v1" in page and "podman pull registry.test/team/app:multi" in page
    assert "linux/amd64" in plain and "linux/arm64/v8" in plain and "index" in plain
    assert "4.4 kB" in plain  # config and both layers
    assert "Delete…" in page
    assert "0 pulls (manifest GETs) in the last 30 days" in plain and "Pulls per day" not in plain


def test_an_image_shows_its_layers_and_config(ui):
    push_full_image(ui, "team/app", "v1")
    plain = text(ui.get("/ui/r/team/app/-/manifests/v1").text)
    for expected in ("application/vnd.oci.image.layer.v1.tar+gzip", "3.0 kB", "700 B", "2026-11-30T10:00:00Z",
                     "Dockyard Tests", "APP_MODE=production", '["/app/server"]', "8080/tcp",
                     "org.opencontainers.image.source", "COPY server /app/server", "EXPOSE 8080", "(no layer)",
                     "Layer sizes", "linux/amd64", "Nothing refers to this manifest"):
        assert expected in plain, expected
    # Each layer beside the build step that made it (the history entries that are not empty_layer).
    assert re.search(r"1 sha256:\w+ Copy 3.0 kB \S+ ADD rootfs.tar /", plain)
    assert re.search(r"2 sha256:\w+ Copy 700 B \S+ COPY server /app/server", plain)


def test_an_index_shows_its_platform_manifests(ui):
    index, children = push_index(ui, "team/app", "multi")
    page = ui.get("/ui/r/team/app/-/manifests/multi").text
    assert "Platforms" in page and "linux/arm64/v8" in page
    for child in children:
        assert f"/ui/r/team/app/-/manifests/{child}" in page
    child = text(ui.get(f"/ui/r/team/app/-/manifests/{children[1]}").text)
    assert "linux/arm64" in child and "untagged" in child


def test_referrers_show_as_a_tree_under_their_subject(ui):
    subject = push_full_image(ui, "team/app", "v1")
    sbom = push_referrer(ui, "team/app", subject, "application/spdx+json")
    signature = push_referrer(ui, "team/app", sbom, "application/vnd.dev.cosign.artifact.sig.v1+json")
    page = ui.get("/ui/r/team/app/-/manifests/v1").text
    tree = page[page.index("<h2>Referrers</h2>"):]
    assert tree.index(sbom[:19]) < tree.index(signature[:19])
    assert tree.count('<ul class="tree">') == 2  # the signature is nested under the SBOM
    artifact = text(ui.get(f"/ui/r/team/app/-/manifests/{sbom}").text)
    assert "artifact" in artifact and "application/spdx+json" in artifact and "Subject" in artifact


def test_deleting_a_tag_names_what_goes_and_what_stays(ui):
    digest = push_full_image(ui, "team/app", "v1")
    push_full_image(ui, "team/app", "also")  # the same image: one manifest, two tags
    plain = text(ui.get("/ui/r/team/app/-/delete/v1").text)
    assert "Delete tag v1?" in plain and f"{digest} stays, with its other tags: also" in plain
    response = ui.post("/ui/r/team/app/-/delete/v1", data={"csrf": csrf_of(ui, "/ui/")})
    assert response.status_code == 200 and "Deleted v1" in text(response.text)
    assert ui.get("/v2/team/app/tags/list").json()["tags"] == ["also"]


def test_deleting_a_manifest_names_its_tags_and_referrers(ui):
    digest = push_full_image(ui, "team/app", "v1")
    push_full_image(ui, "team/app", "also")
    sbom = push_referrer(ui, "team/app", digest, "application/spdx+json")
    plain = text(ui.get(f"/ui/r/team/app/-/delete/{digest}").text)
    assert "tag v1" in plain and "tag also" in plain and sbom[:19] in plain
    assert "Delete manifest and 2 tags" in plain
    ui.post(f"/ui/r/team/app/-/delete/{digest}", data={"csrf": csrf_of(ui, "/ui/")})
    assert ui.get(f"/v2/team/app/manifests/{digest}").status_code == 404
    assert ui.get("/v2/team/app/tags/list").json()["tags"] == []


def test_keys_are_created_with_the_secret_shown_once_listed_and_revoked(ui):
    csrf = csrf_of(ui, "/ui/admin/keys")
    with audit_lines() as lines:
        created = ui.post("/ui/admin/keys", data={"csrf": csrf, "name": "ci", "allow": "team/*=pull,push\n",
                                                  "expires": "30d"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    key_id = re.search(r"dyk_\w+", created.text)[0]
    secret = re.search(r"dys_[\w-]+", created.text)[0]
    listing = ui.get("/ui/admin/keys").text
    assert key_id in listing and secret not in listing and "team/*=pull,push" in listing
    bad = ui.post("/ui/admin/keys", data={"csrf": csrf, "name": "bad", "allow": "team/*=fly"})
    assert bad.status_code == 400 and "actions must be" in bad.text
    assert "Revoke key ci?" in text(ui.get(f"/ui/admin/keys/{key_id}/revoke").text)
    with audit_lines() as more:
        revoked = ui.post(f"/ui/admin/keys/{key_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    events = [(line["event"], line.get("key")) for line in lines + more if line["event"].startswith("key.")]
    assert events == [("key.create", key_id), ("key.revoke", key_id)]
    assert secret not in str(lines)


def test_anonymous_pull_rules_are_shown_and_set(ui):
    csrf = csrf_of(ui, "/ui/admin/anonymous")
    saved = ui.post("/ui/admin/anonymous", data={"csrf": csrf, "patterns": "public/*\nopen/tool\n"})
    assert saved.status_code == 200 and "Saved" in saved.text and "public/*\nopen/tool" in saved.text
    assert ui.get("/dockyard/v1/anonymous").json() == {"pull": ["public/*", "open/tool"]}
    bad = ui.post("/ui/admin/anonymous", data={"csrf": csrf, "patterns": "Not A Pattern"})
    assert bad.status_code == 400 and "invalid repository pattern" in bad.text


def test_upstreams_are_added_without_showing_the_password_and_removed(ui):
    csrf = csrf_of(ui, "/ui/admin/upstreams")
    assert "Upstreams" in ui.get("/ui/admin/").text
    with audit_lines() as lines:
        added = ui.post("/ui/admin/upstreams", data={"csrf": csrf, "name": "ghcr", "url": "https://ghcr.example.test",
                                                     "username": "bot", "password": "s3cret-token"})
    assert added.status_code == 200 and "Added ghcr" in text(added.text)
    assert "s3cret-token" not in added.text and "user bot" in text(added.text)
    assert ui.get("/dockyard/v1/upstreams").json()["upstreams"][0]["name"] == "ghcr"
    refused = ui.post("/ui/admin/upstreams", data={"csrf": csrf, "name": "Bad Name", "url": "x.test",
                                                   "password": "s3cret-token"})
    assert refused.status_code == 400 and "s3cret-token" not in refused.text
    assert "Remove upstream ghcr?" in text(ui.get("/ui/admin/upstreams/ghcr/remove").text)
    with audit_lines() as more:
        removed = ui.post("/ui/admin/upstreams/ghcr/remove", data={"csrf": csrf})
    assert "Removed ghcr" in text(removed.text)
    assert ui.get("/dockyard/v1/upstreams").json()["upstreams"] == []
    assert [line["event"] for line in lines + more] == ["upstream.add", "upstream.remove"]

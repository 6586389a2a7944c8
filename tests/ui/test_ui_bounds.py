"""What keeps a page bounded whatever the registry holds: tag filters (and their search past the tags a page
sorts), at most so many layers and platforms shown, a size cap under Lambda's 6 MB answer, and a key's
confirmation page read with one item."""

import re

from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, create_key
from tests.support.content import push_full_image, push_index
from tests.ui.test_ui_pages import text


def tag_names(page: str) -> list[str]:
    return re.findall(r'<th scope="row" data-label="Tag"><a [^>]*>([^<]+)</a>', page)


def test_tags_are_filtered_by_name(ui):
    for tag in ("v1.0", "v1.1", "v2.0", "latest"):
        push_full_image(ui, "team/app", tag)
    page = ui.get("/ui/r/team/app", params={"q": "v1."}).text
    assert sorted(tag_names(page)) == ["v1.0", "v1.1"] and "2 tags containing “v1.”" in text(page)
    none = ui.get("/ui/r/team/app", params={"q": "nope"}).text
    assert tag_names(none) == [] and "No tag contains “nope”" in text(none)


def test_a_filtered_list_pages_with_its_filter(ui, monkeypatch):
    from dockyard.registry import browse

    for tag in ("a1", "a2", "a3", "b1"):
        push_full_image(ui, "team/app", tag)
    monkeypatch.setattr(browse, "TAG_PAGE", 2)
    first = ui.get("/ui/r/team/app", params={"q": "a"}).text
    after = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    assert "q=a" in after and len(tag_names(first)) == 2
    assert len(tag_names(ui.get("/ui/r/team/app" + after).text)) == 1


def test_past_the_sorted_tags_a_filter_searches_by_name_in_bounded_steps(ui, monkeypatch, calls):
    from dockyard.registry import browse

    for tag in ("a1", "b1", "b2", "c1", "c2", "c3"):
        push_full_image(ui, "team/app", tag)
    monkeypatch.setattr(browse, "MAX_SORTED", 2)
    monkeypatch.setattr(browse, "CATALOG_PAGE", 3)
    monkeypatch.setattr(browse, "SEARCH_PAGES", 1)
    calls.clear()
    page = ui.get("/ui/r/team/app", params={"q": "c"}).text
    assert tag_names(page) == []  # a1..b2 searched, then it offers to go on
    go_on = re.search(r'href="([^"]+)" rel="next">Search on after b2', page)[1].replace("&amp;", "&")
    # The sorted read, one page of the search, the pulls per day, the retention rules (the viewer is an admin).
    assert calls[("dynamodb", "Query")] == 4
    assert tag_names(ui.get("/ui/r/team/app" + go_on).text) == ["c1", "c2", "c3"]


def test_an_image_shows_at_most_so_many_layers_and_platforms(ui, monkeypatch):
    from dockyard.ui import pages

    push_full_image(ui, "team/app", "v1", layers=(b"a" * 10, b"b" * 20, b"c" * 30))
    push_index(ui, "team/app", "multi")
    monkeypatch.setattr(pages, "MAX_ROWS", 1)
    assert "The first 1 of 3 layers are shown" in ui.get("/ui/r/team/app/-/manifests/v1").text
    assert "The first 1 of 2 platform manifests are shown" in ui.get("/ui/r/team/app/-/manifests/multi").text


def test_a_page_too_large_for_one_answer_reads_as_a_page(ui, monkeypatch):
    from dockyard.ui import web

    push_full_image(ui, "team/app", "v1")
    monkeypatch.setattr(web, "MAX_PAGE", 1000)
    page = ui.get("/ui/r/team/app/-/manifests/v1")
    assert page.status_code == 413 and "Too large to show" in page.text and "registry API" in page.text


def test_a_keys_confirmation_reads_one_item(admin_ui, calls):
    key_id, _ = create_key(admin_ui, basic(ADMIN_ID, ADMIN_SECRET), "one", "a/*=pull")
    calls.clear()
    assert "Revoke key one?" in admin_ui.get(f"/ui/admin/keys/{key_id}/revoke").text
    assert calls[("dynamodb", "GetItem")] == 1 and ("dynamodb", "Query") not in calls
    assert admin_ui.get("/ui/admin/keys/nobody/revoke").status_code == 404
    assert admin_ui.get("/ui/admin/keys/" + "x" * 2000 + "/revoke").status_code == 404

"""Quotas and usage on the page: quotas set, shown used against their limit, and deleted (refusals shown on
the form as the registry words them), a push over the limit refused by the registry, and what each
repository stores, pulls and costs, filtered and paged as the usage API does."""

import re
import time

import pytest

from dockyard.ui.web import usd
from tests.support.audit import audit_lines
from tests.support.content import push_full_image
from tests.support.oci import sha256
from tests.support.registry import push_blob
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_maintenance import text


def test_dollars_are_written_to_what_matters():
    assert [usd(v) for v in (0, 0.00001, 0.0123, 0.5, 1, 1234.5)] == [
        "$0", "< $0.0001", "$0.0123", "$0.5000", "$1.00", "$1,234.50"]


def gauges(page: str) -> list[str]:
    return [text(g).strip() for g in re.findall(r'<span class="gauge[^"]*">.*?</span></span>', page, re.S)]


def test_quotas_are_set_shown_used_against_their_limit_and_deleted(ui):
    csrf = csrf_of(ui, "/ui/admin/quotas")
    assert "Quotas and usage" in ui.get("/ui/admin/").text
    with audit_lines() as lines:
        saved = ui.post("/ui/admin/quotas", data={"csrf": csrf, "pattern": "team/*", "limit": "10KiB"})
    assert saved.status_code == 200 and "Saved the quota for team/*" in text(saved.text)
    assert ui.get("/dockyard/v1/quotas").json()["quotas"][0]["limit"] == 10240
    push_blob(ui, "team/app", b"x" * 9300)
    page = ui.get("/ui/admin/quotas").text
    assert gauges(page) == ["9.1 KiB of 10.0 KiB (90.8 %)"] and 'class="gauge full"' in page
    assert re.search(r'<rect class="used" width="90.82"', page)
    refused = ui.post("/v2/team/web/blobs/uploads/", params={"digest": sha256(b"y" * 2000)},
                      content=b"y" * 2000)
    assert refused.status_code == 403  # the registry enforces what the page set
    for form, status, message in (({"pattern": "Team/*", "limit": "1GiB"}, 400, "invalid repository glob 'Team/*'"),
                                  ({"pattern": "team/*", "limit": "lots"}, 400, "limit: invalid size 'lots'"),
                                  ({"pattern": "team/*", "limit": "0"}, 400, "bytes must be a positive whole"),
                                  ({"pattern": "team/*", "limit": "9" * 30}, 400, "bytes must be a positive whole")):
        answer = ui.post("/ui/admin/quotas", data={"csrf": csrf, **form})
        assert answer.status_code == status and message in text(answer.text), (form, text(answer.text)[-800:])
        assert f'value="{form["limit"]}"' in answer.text  # the form keeps what was typed
    confirm = text(ui.get("/ui/admin/quotas/delete", params={"pattern": "team/*"}).text)
    assert "Delete the quota for team/*?" in confirm and "more than 10.0 KiB (they hold 9.1 KiB)" in confirm
    assert ui.get("/ui/admin/quotas/delete", params={"pattern": "none/*"}).status_code == 404
    with audit_lines() as more:
        deleted = ui.post("/ui/admin/quotas/delete", data={"csrf": csrf, "pattern": "team/*"})
    assert "Deleted the quota for team/*" in text(deleted.text)
    assert ui.get("/dockyard/v1/quotas").json()["quotas"] == []
    assert ui.post("/ui/admin/quotas/delete", data={"csrf": csrf, "pattern": "team/*"}).status_code == 404
    assert [line["event"] for line in lines + more] == ["quota.set", "quota.delete"]


def test_usage_shows_what_each_repository_stores_pulls_and_costs(ui, monkeypatch):
    from dockyard.ui.sections import quotas

    push_full_image(ui, "team/app", "v1", layers=(b"A" * 5000,))
    push_full_image(ui, "team/web", "v1", layers=(b"A" * 5000, b"W" * 3000))  # shares the layer
    for _ in range(3):
        assert ui.get("/v2/team/app/manifests/v1").status_code == 200
    api = ui.get("/dockyard/v1/usage", params={"glob": "team/*", "egress": "internet"}).json()
    page = ui.get("/ui/admin/quotas/usage", params={"glob": "team/*", "egress": "internet"})
    assert page.status_code == 200
    rows = {text(row).split()[0]: text(row) for row in re.findall(r"<tr>\s*<th scope=\"row\".*?</tr>", page.text, re.S)}
    assert set(rows) == {"team/app", "team/web"}
    app = next(r for r in api["repositories"] if r["repository"] == "team/app")
    assert app["activity"]["pulls"] == 3
    # stored, shared (the config and a layer team/web links too), manifests, tags, pulls, pushes, downloads
    assert re.search(r"^ team/app 5\.7 kB 5\.7 kB 1 1 3 1 0 0 B just now ", rows["team/app"]), rows["team/app"]
    assert re.search(r"^ team/web 8\.7 kB 5\.7 kB 1 1 0 1 0 0 B never ", rows["team/web"]), rows["team/web"]
    assert usd(app["monthly_cost_usd"]["total"]) in rows["team/app"]
    assert "s3 storage" in rows["team/app"] and "egress" in rows["team/app"]
    assert "Estimated cost a month" in text(page.text) and "egress at $0.09 per GB" in text(page.text)
    monkeypatch.setattr(quotas, "USAGE_PAGE", 1)
    first = ui.get("/ui/admin/quotas/usage", params={"glob": "team/*"}).text
    more = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    assert "team/app" in first and "team/web" not in first and "last=team%2Fapp" in more
    second = ui.get("/ui/admin/quotas/usage" + more).text
    assert "team/web" in second and ">team/app<" not in second and "First page" in second


@pytest.mark.parametrize("params,message", [({"glob": "Bad Glob"}, "invalid repository glob"),
                                            ({"days": "0"}, "days must be 1 to 400"),
                                            ({"egress": "mars"}, "egress must be one of in-region, internet"),
                                            ({"last": "Bad..Name"}, "invalid")])
def test_bad_usage_filters_are_a_400_on_the_page(ui, params, message):
    page = ui.get("/ui/admin/quotas/usage", params=params)
    assert page.status_code == 400 and message in text(page.text).lower() and "Traceback" not in page.text
    assert 'id="glob"' in page.text  # the filters stay, to be corrected


def test_a_non_number_of_days_is_a_400_page(ui):
    page = ui.get("/ui/admin/quotas/usage", params={"days": "many"})
    assert page.status_code == 400 and "Traceback" not in page.text


def test_only_admins_see_quotas_and_usage(secured):
    from tests.support.auth import create_key
    from tests.ui.conftest import sign_in
    from tests.ui.test_ui_maintenance import ADMIN

    sign_in(secured, *create_key(secured, ADMIN, "reader", "team/*=pull"))
    for path in ("/ui/admin/quotas", "/ui/admin/quotas/usage", "/ui/admin/quotas/delete?pattern=team/*"):
        assert secured.get(path).status_code == 403, path
    refused = secured.post("/ui/admin/quotas", data={"csrf": csrf_of(secured, "/ui/"), "pattern": "team/*",
                                                     "limit": "1GiB"})
    assert refused.status_code == 403
    assert secured.get("/dockyard/v1/quotas", headers=ADMIN).json()["quotas"] == []


def test_a_repository_page_charts_its_pulls_per_day(ui, registry):
    push_full_image(ui, "team/app", "v1")
    for _ in range(3):
        assert ui.get("/v2/team/app/manifests/v1").status_code == 200
    registry.meter.flush(most=None)  # the batch of this instance's counts, as when it is a minute old
    page = ui.get("/ui/r/team/app").text
    assert "3 pulls (manifest GETs) in the last 30 days" in text(page)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    bars = re.findall(r'<li><span class="label" title="([^"]+)">.*?<span class="value">(\d+)</span></li>', page)
    assert len(bars) == 14 and bars[-1] == (today, "3") and {count for _, count in bars[:-1]} == {"0"}

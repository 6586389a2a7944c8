"""Usage and cost per repository over the admin API: stored bytes unique and shared, manifests and tags, pulls,
redirects and pushes per day, and the cost model; what metering costs a pull and a push."""

from __future__ import annotations

import pytest

from dockyard import pricing
from tests.support.oci import sha256
from tests.support.registry import error_code, image_config, push_blob, push_image


@pytest.fixture
def metered(registry):
    registry.meter.interval = 0  # every manifest GET writes its counts
    return registry


def usage(client, **params) -> dict:
    response = client.get("/dockyard/v1/usage", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_name(report: dict) -> dict:
    return {r["repository"]: r for r in report["repositories"]}


def test_stored_bytes_unique_and_shared_manifests_tags_and_activity(client, metered):
    base, own = b"b" * 1000, b"o" * 300
    digest, _ = push_image(client, "team/a", "v1", layers=[base, own])
    push_image(client, "team/a", "v2", layers=[base, own])  # same layers, another config and manifest
    mounted = client.post("/v2/team/b/blobs/uploads/", params={"mount": sha256(base), "from": "team/a"})
    assert mounted.status_code == 201
    push_image(client, "team/b", "b1", layers=[base])  # a config of its own
    push_image(client, "other/c", "c1")  # (a repository is in the catalog once it has a manifest)
    for _ in range(3):
        assert client.get("/v2/team/a/manifests/v1").status_code == 200
    assert client.head("/v2/team/a/manifests/v1").status_code == 200  # not a pull
    assert client.get(f"/v2/team/a/blobs/{sha256(base)}", follow_redirects=False).status_code == 307
    assert client.get(f"/v2/team/a/blobs/{sha256(own)}", follow_redirects=False).status_code == 307
    config = client.get(f"/v2/team/a/blobs/{sha256(image_config('v1'))}", follow_redirects=False)
    assert config.status_code == 200 and config.content == image_config("v1")  # from memory: the pulls' hints

    report = usage(client, glob="team/*")
    assert set(by_name(report)) == {"team/a", "team/b"}
    a, b = by_name(report)["team/a"], by_name(report)["team/b"]
    b_config = image_config("b1")
    assert a["stored"]["shared_bytes"] == 1000 and b["stored"] == {
        "blobs": 2, "unique_bytes": len(b_config), "shared_bytes": 1000, "blob_bytes": 1000 + len(b_config),
        "manifests": 1, "manifest_bytes": b["stored"]["manifest_bytes"], "tags": 1,
        "table_bytes": b["stored"]["table_bytes"]}
    assert a["stored"]["blobs"] == 4  # two layers, two configs
    assert a["stored"]["unique_bytes"] == 300 + len(image_config("v1")) + len(image_config("v2"))
    assert (a["stored"]["manifests"], a["stored"]["tags"]) == (2, 2)
    assert a["activity"]["pulls"] == 3 and a["activity"]["pushes"] == 2
    assert (a["activity"]["redirects"], a["activity"]["redirect_bytes"]) == (2, 1300)
    assert (a["activity"]["served"], a["activity"]["served_bytes"]) == (1, len(image_config("v1")))
    assert (a["activity"]["downloads"], a["activity"]["download_bytes"]) == (3, 1300 + len(image_config("v1")))
    assert [d["pulls"] for d in a["activity"]["per_day"]] == [3]
    assert a["last_pull"] and a["last_push"] and b["last_pull"] is None and b["last_push"]
    assert a["monthly_cost_usd"]["total"] > b["monthly_cost_usd"]["total"] > 0
    assert a["monthly_cost_usd"]["egress"] == 0 and report["model"]["egress_usd_per_gb"] == 0
    internet = by_name(usage(client, glob="team/a", egress="internet"))["team/a"]["monthly_cost_usd"]
    assert internet["egress"] == pytest.approx((1300 + len(image_config("v1"))) / pricing.GB
                                               * pricing.EGRESS["internet"], abs=1e-6)
    assert set(by_name(usage(client))) == {"team/a", "team/b", "other/c"}


def test_pages_follow_each_other(client):
    for name in ("p/a", "p/b", "p/c"):
        push_blob(client, name, name.encode())
        push_image(client, name, "v1")
    first = usage(client, glob="p/*", n=2)
    assert [r["repository"] for r in first["repositories"]] == ["p/a", "p/b"] and first["next"] == "p/b"
    second = usage(client, glob="p/*", n=2, last=first["next"])
    assert [r["repository"] for r in second["repositories"]] == ["p/c"] and second["next"] is None


@pytest.mark.parametrize("params", [{"glob": "Team/*"}, {"days": 0}, {"days": 401}, {"egress": "mars"},
                                    {"egress": "-1"}, {"n": 0}])
def test_bad_parameters_are_refused(client, params):
    response = client.get("/dockyard/v1/usage", params=params)
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"


def test_a_pull_writes_nothing_until_its_batch_is_due_and_a_push_writes_once(client, registry, calls):
    push_image(client, "team/app", "v1")
    assert client.get("/v2/team/app/manifests/v1").status_code == 200  # its hourly pull stamp is written
    registry.meter.flush()
    calls.clear()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 1}
    registry.meter.interval = 0
    calls.clear()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "UpdateItem"): 1}

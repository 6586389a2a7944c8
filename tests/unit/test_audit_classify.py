"""Which requests make an audit line, and what it says: decided by the route that answered."""

import pytest

from dockyard.api import admin, base, blobs, direct, manifests, uploads
from dockyard.audit import classify
from dockyard.ui import pages as ui_pages
from dockyard.ui.sections import anonymous as ui_anonymous
from dockyard.ui.sections import keys as ui_keys

D = "sha256:" + "a" * 64
APP = {"name": "team/app"}


@pytest.mark.parametrize("endpoint,params,query,status,expected", [
    (manifests.put_manifest, {**APP, "reference": "v1"}, "", 201,
     {"event": "manifest.push", "repository": "team/app", "reference": "v1"}),
    (manifests.put_manifest, {"name": "team/manifests/evil", "reference": "latest"}, "", 201,
     {"event": "manifest.push", "repository": "team/manifests/evil", "reference": "latest"}),
    (manifests.delete_manifest, {**APP, "reference": D}, "", 202,
     {"event": "manifest.delete", "repository": "team/app", "reference": D}),
    (uploads.start_upload, APP, f"digest={D}", 201, {"event": "blob.push", "repository": "team/app"}),
    (uploads.start_upload, APP, f"mount={D}&from=x", 201, {"event": "blob.mount", "repository": "team/app"}),
    (uploads.finish_upload, {**APP, "upload_id": "0000"}, f"digest={D}", 201,
     {"event": "blob.push", "repository": "team/app"}),
    (direct.complete_direct_upload, {**APP, "upload_id": "0000"}, "", 201,
     {"event": "blob.push", "repository": "team/app"}),
    (blobs.delete_blob, {**APP, "digest": D}, "", 202, {"event": "blob.delete", "repository": "team/app", "digest": D}),
    (uploads.start_upload, APP, "", 202, None),  # a session opened: the blob is audited when it lands
    (uploads.append_chunk, {**APP, "upload_id": "0000"}, "", 202, None),
    (uploads.cancel_upload, {**APP, "upload_id": "0000"}, "", 204, None),
    (manifests.get_manifest, {**APP, "reference": "v1"}, "", 200, None),
    (manifests.put_manifest, {**APP, "reference": "v1"}, "", 400, None),
    (admin.create_key, {}, "", 201, {"event": "key.create"}),
    (admin.revoke_key, {"key_id": "dyk_x"}, "", 200, {"event": "key.revoke", "key": "dyk_x"}),
    # The web page's forms answer 303 (or 201 with the new key); a form shown again with an error is no event.
    (ui_pages.delete, {**APP, "reference": "v1"}, "", 303, {"event": "manifest.delete", "repository": "team/app",
                                                            "reference": "v1"}),
    (ui_pages.delete, {**APP, "reference": "v1"}, "", 200, None),
    (ui_keys.create_key, {}, "", 201, {"event": "key.create"}),
    (ui_keys.create_key, {}, "", 400, None),
    (ui_keys.revoke_key, {"key_id": "dyk_x"}, "", 303, {"event": "key.revoke", "key": "dyk_x"}),
    (ui_anonymous.save, {}, "", 303, {"event": "anonymous.set"}),
    (ui_anonymous.save, {}, "", 400, None),
    (admin.set_anonymous, {}, "", 200, {"event": "anonymous.set"}),
    (admin.list_keys, {}, "", 200, None),
    (manifests.get_manifest, {**APP, "reference": "v1"}, "", 401, {"event": "denied"}),
    (manifests.get_manifest, {**APP, "reference": "v1"}, "", 403, {"event": "denied"}),
])
def test_classify(endpoint, params, query, status, expected):
    assert classify(endpoint, params, query, status, has_credentials=True) == expected


def test_the_first_step_of_the_token_flow_is_not_a_denial():
    assert classify(base.check_version, {}, "", 401, has_credentials=False) is None
    assert classify(base.check_version, {}, "", 401, has_credentials=True) == {"event": "denied"}


def test_an_unmatched_request_makes_no_line():
    assert classify(None, {}, "", 201, has_credentials=True) is None

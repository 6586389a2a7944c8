"""Manifest validation: media types, structure, references, size."""

import base64
import json

import pytest

from dockyard.domain import mediatypes as mt
from dockyard.domain.digest import Digest
from dockyard.domain.manifest import MAX_MANIFEST_SIZE, parse_manifest
from dockyard.errors import Err, RegistryError

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "c" * 64, "size": 10}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64, "size": 5}
CHILD = {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "2" * 64, "size": 300,
         "platform": {"architecture": "arm64", "os": "linux"}}


def encode(doc) -> bytes:
    return json.dumps(doc).encode()


def image(**extra) -> dict:
    return {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER], **extra}


def invalid(body: bytes, content_type=mt.OCI_MANIFEST) -> RegistryError:
    with pytest.raises(RegistryError) as raised:
        parse_manifest(body, content_type)
    return raised.value


def test_image_manifest_references_config_and_layers():
    body = encode(image())
    manifest = parse_manifest(body, mt.OCI_MANIFEST)
    assert manifest.body is body
    assert manifest.media_type == mt.OCI_MANIFEST
    assert manifest.digest == Digest.of(body)
    assert [str(d) for d in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]
    assert manifest.children == ()
    assert manifest.artifact_type == CONFIG["mediaType"]


def test_index_references_children():
    manifest = parse_manifest(encode({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [CHILD]}),
                              mt.OCI_INDEX)
    assert [str(d) for d in manifest.children] == [CHILD["digest"]]
    assert manifest.blobs == ()


@pytest.mark.parametrize("media_type", [mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST])
def test_docker_media_types(media_type):
    doc = image(mediaType=media_type) if media_type == mt.DOCKER_MANIFEST else \
        {"schemaVersion": 2, "mediaType": media_type, "manifests": [CHILD]}
    assert parse_manifest(encode(doc), media_type).media_type == media_type


def test_media_type_comes_from_the_body_when_the_header_is_generic():
    assert parse_manifest(encode(image()), "application/json").media_type == mt.OCI_MANIFEST


def test_media_type_is_inferred_from_shape_when_absent():
    doc = image()
    del doc["mediaType"]
    assert parse_manifest(encode(doc), None).media_type == mt.OCI_MANIFEST
    assert parse_manifest(encode({"schemaVersion": 2, "manifests": []}), None).media_type == mt.OCI_INDEX


def test_content_type_parameters_are_ignored():
    assert parse_manifest(encode(image()), mt.OCI_MANIFEST + "; charset=utf-8").media_type == mt.OCI_MANIFEST


def test_non_distributable_layers_are_not_required():
    foreign = {**LAYER, "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "digest": "sha256:" + "f" * 64}
    manifest = parse_manifest(encode(image(layers=[LAYER, foreign])), mt.OCI_MANIFEST)
    assert "sha256:" + "f" * 64 not in [str(d) for d in manifest.blobs]


def test_subject_artifact_type_and_annotations():
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "5" * 64, "size": 99}
    manifest = parse_manifest(encode(image(subject=subject, artifactType="application/x.sbom",
                                           annotations={"k": "v"})), mt.OCI_MANIFEST)
    assert str(manifest.subject.digest) == subject["digest"]
    assert manifest.artifact_type == "application/x.sbom"
    assert manifest.annotations == {"k": "v"}


def test_extra_fields_no_layers_and_valid_data_are_accepted():
    data = b"{}"
    config = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(Digest.of(data)), "size": 2,
              "data": base64.b64encode(data).decode()}
    manifest = parse_manifest(encode(image(config=config, layers=[], extra={"x": 1})), mt.OCI_MANIFEST)
    assert manifest.blobs == (Digest.of(data),)


def test_sha512_reference_digest():
    body = encode(image())
    assert parse_manifest(body, mt.OCI_MANIFEST, "sha512").digest == Digest.of(body, "sha512")


@pytest.mark.parametrize("body,detail", [
    (b"not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[]", "JSON object"),
    (encode(image(schemaVersion=1)), "schemaVersion"),
    (encode({**image(), "config": None}), "descriptor must be an object"),
    (encode({k: v for k, v in image().items() if k != "config"}), "config descriptor"),
    (encode(image(layers={})), "layers must be an array"),
    (encode(image(layers=[{**LAYER, "size": -1}])), "size"),
    (encode(image(layers=[{**LAYER, "size": True}])), "size"),
    (encode(image(layers=[{**LAYER, "mediaType": ""}])), "mediaType"),
    (encode(image(layers=[{**LAYER, "digest": "sha256:xyz"}])), "digest"),
    (encode(image(annotations={"k": 1})), "annotations"),
    (encode(image(config={**CONFIG, "data": "e30="})), "data does not match"),
    (encode(image(mediaType="application/vnd.example+json")), "unsupported manifest media type"),
    (encode({"schemaVersion": 2, "mediaType": mt.OCI_INDEX}), "manifests array"),
])
def test_malformed_manifests_are_manifest_invalid(body, detail):
    error = invalid(body, None)
    assert error.err is Err.MANIFEST_INVALID
    assert detail in error.detail


def test_unknown_content_type_without_media_type_is_refused():
    error = invalid(encode({"schemaVersion": 2}), "application/vnd.example+json")
    assert error.err is Err.MANIFEST_INVALID


def test_header_and_body_media_types_must_agree():
    error = invalid(encode(image()), mt.DOCKER_MANIFEST)
    assert "does not match" in error.detail


def test_schema1_is_refused():
    error = invalid(encode({"schemaVersion": 1, "name": "x"}), mt.DOCKER_SCHEMA1[1])
    assert "schema 1" in error.detail


def test_manifest_over_the_size_limit_is_payload_too_large():
    body = encode(image(annotations={"pad": "x" * MAX_MANIFEST_SIZE}))
    error = invalid(body)
    assert error.err is Err.MANIFEST_TOO_LARGE and error.err.status == 413


def test_manifest_at_the_size_limit_is_accepted():
    doc = image(annotations={"pad": ""})
    pad = MAX_MANIFEST_SIZE - len(encode(doc))
    body = encode(image(annotations={"pad": "x" * pad}))
    assert len(body) == MAX_MANIFEST_SIZE
    assert parse_manifest(body, mt.OCI_MANIFEST).size == MAX_MANIFEST_SIZE


def test_a_specific_content_type_must_match_the_body():
    error = invalid(encode(image()), "application/vnd.example.other+json")
    assert "does not match" in error.detail


DUPLICATE_LAYERS = (b'{"schemaVersion": 2, "mediaType": "' + mt.OCI_MANIFEST.encode() + b'", "config": '
                    + encode(CONFIG) + b', "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", '
                    b'"digest": "sha256:' + b"9" * 64 + b'", "size": 5}], "layers": ' + encode([LAYER]) + b"}")


@pytest.mark.parametrize("body,detail", [
    (DUPLICATE_LAYERS, "duplicate key 'layers'"),
    (encode(image()).replace(b'"size": 5', b'"size": 5, "size": 6'), "duplicate key 'size'"),
    (encode(image(annotations={"n": 1})).replace(b'"n": 1', b'"n": NaN'), "NaN is not JSON"),
    (encode(image(annotations={"n": 1})).replace(b'"n": 1', b'"n": -Infinity'), "-Infinity is not JSON"),
    (encode(image(annotations={"n": 1})).replace(b'"n": 1', b'"n": 1e999'), "out of range"),
    (json.dumps(image()).encode("utf-16"), "not UTF-8"),
    (json.dumps(image()).encode("utf-16-le"), "not valid JSON"),
    (b"\xef\xbb\xbf" + encode(image()), "byte order mark"),
    (encode(image(annotations={"a": "x"})).replace(b'"x"', b'"\\ud800"'), "lone surrogate"),
    (encode(image(annotations={"a": "x"})).replace(b'"a"', b'"\\udfff"'), "lone surrogate"),
    (encode(image(schemaVersion=2.0)), "schemaVersion must be the integer 2"),
    (encode(image(schemaVersion="2")), "schemaVersion must be the integer 2"),
    (encode(image(schemaVersion=True)), "schemaVersion must be the integer 2"),
])
def test_json_that_readers_could_disagree_on_is_refused(body, detail):
    error = invalid(body)
    assert error.err is Err.MANIFEST_INVALID
    assert detail in error.detail


def test_strict_json_keeps_what_rfc_8259_allows():
    raw = json.dumps(image(annotations={"text": "caf\u00e9 \U0001f433"}), ensure_ascii=False).encode()
    assert parse_manifest(raw, mt.OCI_MANIFEST).annotations["text"] == "caf\u00e9 \U0001f433"
    escaped = json.dumps(image(annotations={"pair": "\U0001f433"})).encode()  # a surrogate pair escape
    assert b"\\ud83d\\udc33" in escaped
    assert parse_manifest(escaped, mt.OCI_MANIFEST).annotations["pair"] == "\U0001f433"
    assert parse_manifest(encode(image(annotations={"n": "1"})) + b"\n ", mt.OCI_MANIFEST).body.endswith(b" ")

"""The AWS Lambda entry point: the FastAPI app behind Mangum. No AWS client is created at import time."""

from mangum import Mangum

from dockyard.app import create_app

# Mangum matches these as substrings of Content-Type: plain JSON bodies (errors, listings, tokens) and text go
# back as text; anything else as base64, manifests and referrer indexes (`...+json`) included. A 4 MiB
# manifest, the largest a client may push, is 5.6 MB in base64, within the Function URL's 6,291,456-byte
# response; as text, the runtime's JSON escaping of non-ASCII could make it 12 MB.
TEXT_MIME_TYPES = ["application/json", "text/"]


def make_handler(app=None) -> Mangum:
    """The Lambda handler around an app (by default the registry configured from the environment)."""
    return Mangum(app or create_app(), lifespan="off", text_mime_types=TEXT_MIME_TYPES)


handler = make_handler()

"""The AWS Lambda entry point: the FastAPI app behind Mangum. No AWS client is created at import time."""

from mangum import Mangum

from dockyard.app import create_app

# Mangum matches these as substrings of Content-Type: JSON bodies (error bodies, listings, every OCI and
# Docker manifest type ends in +json) go back as text; anything else, or bytes that are not UTF-8, as base64.
TEXT_MIME_TYPES = ["application/json", "+json", "text/"]


def make_handler(app=None) -> Mangum:
    """The Lambda handler around an app (by default the registry configured from the environment)."""
    return Mangum(app or create_app(), lifespan="off", text_mime_types=TEXT_MIME_TYPES)


handler = make_handler()

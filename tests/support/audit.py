"""Collect the audit lines a test's requests write."""

from __future__ import annotations

import contextlib
import json
import logging


@contextlib.contextmanager
def audit_lines():
    """`with audit_lines() as lines:` each audit line written meanwhile, parsed."""
    from dockyard.audit import logger

    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(record.getMessage()))

    handler = Collect()
    logger().addHandler(handler)
    try:
        yield lines
    finally:
        logger().removeHandler(handler)

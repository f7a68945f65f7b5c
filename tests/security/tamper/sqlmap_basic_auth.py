#!/usr/bin/env python3
"""sqlmap tamper script: the injection point is one half of Basic credentials. sqlmap hands
over the login (or password) with its payload; this returns the whole header value's
base64, with the other half taken from KIVA_SQLMAP_BASIC ("login:" or ":password")."""

import base64
import os

from lib.core.enums import PRIORITY

__priority__ = PRIORITY.LOWEST


def dependencies():
    pass


def tamper(payload, **kwargs):
    other = os.environ.get("KIVA_SQLMAP_BASIC", ":hobbes")
    text = other + payload if other.endswith(":") else payload + other
    return base64.b64encode(text.encode()).decode() if payload else payload

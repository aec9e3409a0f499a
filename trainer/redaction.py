"""Keeping credentials out of whatever leaves a process (logs, errors, metadata): the one place for that idea.

- ``redact_credentials(text)``: credential shapes in free text masked (``PATTERNS``);
- ``redact_uri(uri)``: a URI as it may be shown or recorded (no user info, query string or fragment);
- ``mask_userinfo(text)``: every URL's user info masked whole (a user name can be a token too);
- ``uri_carries_credentials(uri)``: whether a URI that must authenticate another way carries a query or user info.

One list for both sides: the trainer (which never imports robotics_assets) and the code location, whose
``robotics_assets.lib.secrets.redact`` adds the secret values it handed out. Dependency-free on purpose: the code
location imports it while its definitions load.
"""

from __future__ import annotations

import re

MASK = "***"

# Each pattern is (prefix)(secret)(suffix): the secret becomes MASK, the rest stays so the line is still readable.
PATTERNS = [
    # key=value in connection strings, query strings, form bodies
    re.compile(r"(?i)((?:AccountKey|SharedAccessSignature|SharedAccessKey|password|pwd|client_secret)=)"
               r"([^;&\s\"']+)()"),
    # environment-style assignments: GITHUB_TOKEN=..., OSMO_TOKEN=..., DB_PASSWORD=..., *_SECRET=...
    re.compile(r"(?i)(\b[A-Za-z][A-Za-z0-9_]*_(?:TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|API_KEY|ACCOUNT_KEY)=)"
               r"([^\s;&\"']+)()"),
    # SAS signature in a URL, plain or URL-encoded once more (sig%3D inside another URL's query string)
    re.compile(r"(?i)([?&]sig=)([^&\s\"']+)()"),
    re.compile(r"(?i)((?:[?&]|%3F|%26)sig%3D)([^&\s\"']+?)((?:%26|&|[\s\"']|$))"),
    # JSON-ish "AccountKey": "...", "client_secret": "...", "access_token": "..."
    re.compile(r"(?i)(\"(?:AccountKey|SharedAccessSignature|SharedAccessKey|client_secret|password|secret|"
               r"access_token|refresh_token|id_token|token|sas|sas_token|sig)\"\s*:\s*\")([^\"]+)(\")"),
    re.compile(r"(?i)(Bearer\s+)([A-Za-z0-9\-_.~+/]{8,}=*)()"),
    # a bare JWT (header.payload.signature, base64url of '{"...'), wherever it appears
    re.compile(r"()(\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)()"),
    re.compile(r"(?i)(://[^:/@\s]+:)([^@\s]+)(@)"),  # user:password@host in URLs
]


def redact_credentials(text: object) -> str:
    """``text`` as a string with every credential-shaped substring replaced by ``***``."""
    out = str(text)
    for pattern in PATTERNS:
        out = pattern.sub(lambda m: m.group(1) + MASK + m.group(3), out)
    return out


def redact_uri(uri: str) -> str:
    """The URI without user info, query string or fragment: a password or SAS token must not reach a log or error."""
    text = re.sub(r"[?#].*", "", str(uri), flags=re.DOTALL)
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@", r"\1", text)


def mask_userinfo(text: object) -> str:
    """``text`` with the user info of every URL in it replaced by ``***`` (``http://***@host``)."""
    return re.sub(r"//[^/@\s]+@", f"//{MASK}@", str(text))


def uri_carries_credentials(uri: str) -> bool:
    """A query string (a SAS token) or user info (a password) in a URI."""
    text = str(uri)
    return "?" in text or "@" in text.partition("://")[2].split("/", 1)[0]

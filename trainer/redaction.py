"""Credential shapes masked wherever text leaves a process (logs, errors, metadata).

One list for both sides: the trainer (which never imports robotics_assets) and the code location, whose
``robotics_assets.lib.secrets.redact`` adds the secret values it handed out. Dependency-free on purpose.
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

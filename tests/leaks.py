"""A scan of every response the test suite receives: personal data and credentials must never
leave the API where they don't belong (PIPL; OWASP API3 excessive data exposure).

Installed as an httpx response hook on the suite's client, so each test that gets a leaking
response fails at the request that leaked, naming the path and what was found.
"""

from __future__ import annotations

import re

import httpx

# A mainland mobile number, not part of a longer digit or hex run (ids are hex).
RAW_PHONE = re.compile(r"(?<![0-9A-Za-z.+-])1[3-9]\d{9}(?![0-9A-Za-z.])")
# An 18-character resident identity number.
IDENTITY_NUMBER = re.compile(r"(?<![0-9A-Za-z.+-])\d{17}[\dXx](?![0-9A-Za-z.])")
# A JWT (our access tokens) — only the sign-in endpoints hand them out.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
PASSWORD_HASH = re.compile(r"\$(2[aby]|argon2id?|pbkdf2-sha256|scrypt)\$")
TEXT_TYPES = ("application/json", "application/problem+json", "text/", "application/xml")


class LeakError(AssertionError):
    pass


def find_leaks(path: str, content_type: str, body: str) -> list[str]:
    found: list[str] = []
    if not content_type.startswith(TEXT_TYPES):
        return found
    if match := RAW_PHONE.search(body):
        found.append(f"raw phone {match.group()}")
    if match := IDENTITY_NUMBER.search(body):
        found.append(f"identity number {match.group()}")
    if not path.startswith("/api/v1/auth/") and JWT.search(body):
        found.append("an access token")
    if PASSWORD_HASH.search(body):
        found.append("a password hash")
    return found


async def scan_response(response: httpx.Response) -> None:
    await response.aread()
    content_type = response.headers.get("content-type", "")
    # Exports (CSV, spreadsheets) are scanned by their own tests, which parse the files.
    leaks = find_leaks(response.request.url.path, content_type, response.text[:2_000_000])
    if leaks:
        raise LeakError(f"{response.request.method} {response.request.url.path}: {leaks}")

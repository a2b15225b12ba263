"""The response scan that every test's client runs (tests/leaks.py) catches what it must."""

from __future__ import annotations

from tests.leaks import find_leaks

JSON = "application/json"


def test_raw_phone_identity_number_and_token_are_found() -> None:
    assert find_leaks("/api/v1/me", JSON, '{"phone": "13820101000"}') == ["raw phone 13820101000"]
    assert find_leaks("/x", JSON, '{"id_no": "31010719800101123X"}') == [
        "identity number 31010719800101123X"
    ]
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"
    assert find_leaks("/api/v1/proposals", JSON, f'{{"t": "{token}"}}') == ["an access token"]
    assert find_leaks("/x", "text/csv", "$2b$12$abcdefghijklmnopqrstuv") == ["a password hash"]


def test_masked_phones_ids_numbers_and_sign_in_replies_pass() -> None:
    assert find_leaks("/x", JSON, '{"phone": "138****1000"}') == []
    assert find_leaks("/x", JSON, '{"id": "0192f3a4-13820101000a-77"}') == []
    assert find_leaks("/metrics", "text/plain", "x_created 1.7960045987983503e+09") == []
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"
    assert find_leaks("/api/v1/auth/refresh", JSON, f'{{"access_token": "{token}"}}') == []
    assert find_leaks("/x", "image/png", "13820101000") == []

"""API request logs are sanitized: credentials masked in the body (any depth), the query
and the headers; bodies that are not JSON or too large keep only their size. (Through the
app: tests/api/resources/test_logs_api.py.)"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from api.logstore import raw_request, sanitized

MASK = "***"


def test_sanitized_masks_credentials_at_any_depth_in_body_query_and_headers():
    body = (b'{"email": "ana@example.com", "password": "hunter2", "settings": {"access_token": "EAAG",'
            b' "nested": [{"client_secret": "s", "keep": 1}], "app_secret": "x"}, "name": "Ana"}')
    raw = raw_request(method="POST", path="/users", query={"hub.verify_token": "vt", "page": "2"},
                      headers={"Authorization": "Bearer abc.def", "Cookie": "session=1", "X-Api-Key": "k",
                               "Content-Type": "application/json", "X-Unrelated": "dropped"},
                      body=body, body_size=len(body), status_code=201, elapsed_ms=4.2,
                      organization_id=uuid.uuid4(), user_id=uuid.uuid4(), ip_address="10.0.0.1",
                      user_agent="pytest", error_message=None, at=datetime.now(timezone.utc))
    stored = sanitized(raw)
    assert stored["body"] == {"email": "ana@example.com", "password": MASK, "name": "Ana",
                              "settings": {"access_token": MASK, "nested": [{"client_secret": MASK, "keep": 1}],
                                           "app_secret": MASK}}
    assert stored["query_params"] == {"hub.verify_token": MASK, "page": "2"}
    assert stored["headers"] == {"authorization": MASK, "cookie": MASK, "x-api-key": MASK,
                                 "content-type": "application/json"}
    assert "hunter2" not in repr(stored) and "abc.def" not in repr(stored)
    assert stored["success"] is True and stored["response_time_ms"] == 4.2


def test_bodies_that_are_not_json_or_too_large_keep_only_their_size():
    def body_of(body: bytes | None, size: int):
        return sanitized(raw_request(method="POST", path="/x", query={}, headers={}, body=body, body_size=size,
                                     status_code=400, elapsed_ms=1, organization_id=None, user_id=None,
                                     ip_address=None, user_agent=None, error_message="bad",
                                     at=datetime.now(timezone.utc)))["body"]

    assert body_of(b"password=hunter2", 16) == {"_omitted": "not JSON", "size": 16}
    assert body_of(None, 10**6) == {"_omitted": "too large", "size": 10**6}

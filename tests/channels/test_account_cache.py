"""A process reads an account's settings once per few seconds on the inbound path, and an
admin's change in the same process is seen at once."""

from __future__ import annotations

import httpx
import pytest

from kefu.channels import delivery
from kefu.kit.errors import NotFound
from kefu.runtime import Runtime
from tests.conftest import Actor


async def test_a_change_clears_the_cached_account(
    client: httpx.AsyncClient, runtime: Runtime, admin: Actor
) -> None:
    body = {"kind": "email", "name": "Support", "address": "support@example.com"}
    created = await client.post("/api/v1/channel-accounts", json=body, headers=admin.headers)
    account_id = created.json()["id"]
    first = await delivery.account_config(runtime, account_id)
    assert await delivery.account_config(runtime, account_id) is first  # read once

    update = {"config": {"from_name": "Help Desk"}, "secrets": {"smtp_password": "s3cret"}}
    response = await client.patch(
        f"/api/v1/channel-accounts/{account_id}", json=update, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    changed = await delivery.account_config(runtime, account_id)
    assert changed.settings["from_name"] == "Help Desk"
    assert changed.settings["smtp_password"] == "s3cret"

    response = await client.delete(f"/api/v1/channel-accounts/{account_id}", headers=admin.headers)
    assert response.status_code == 204
    with pytest.raises(NotFound):
        await delivery.account_config(runtime, account_id)

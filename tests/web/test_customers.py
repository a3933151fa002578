"""Customer and company pages: search, the 360 panel, editing, merging after a preview."""

from __future__ import annotations

import httpx

from tests.conftest import Actor, People, create_ticket, define_field
from tests.web.conftest import SignIn


async def test_customer_list_searches_names_and_identities(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    await create_ticket(client, admin, requester={"email": "wang.fang@example.cn", "name": "王芳"})
    await create_ticket(client, admin, requester={"email": "bob@example.com", "name": "Bob"})
    b = await browser(admin)
    by_email = await b.get("/customers?q=wang.fang")
    assert "王芳" in by_email.text and "Bob" not in by_email.text
    partial = await b.get("/customers", htmx=True, q="王")
    assert "<html" not in partial.text and "王芳" in partial.text


async def test_customer_360_shows_every_channel_and_counts(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    first = await create_ticket(client, admin, subject="By mail", channel="email")
    await create_ticket(client, admin, subject="By WeChat", channel="wechat", status="pending")
    solved = await create_ticket(client, admin, subject="Old one", channel="sms")
    await client.patch(
        f"/api/v1/tickets/{solved['id']}", json={"status": "solved"}, headers=admin.headers
    )
    customer_id = first["requester"]["id"]
    await client.patch(
        f"/api/v1/customers/{customer_id}",
        json={
            "tier": "vip",
            "add_identities": [{"kind": "wechat", "value": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"}],
        },
        headers=admin.headers,
    )
    b = await browser(admin)
    page = await b.get(f"/customers/{customer_id}")
    for text in (
        "By mail",
        "By WeChat",
        "Old one",
        "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
        "tier-vip",
        "ch-wechat",
    ):
        assert text in page.text, text
    assert "<strong>2</strong><span>open tickets</span>" in page.text
    assert "<strong>3</strong><span>tickets in all</span>" in page.text
    panel = await b.get(f"/tickets/{first['id']}")
    assert "o6_bmjrPTlm6_2sgVt7hMZOPfL2M" in panel.text  # the same panel beside the ticket


async def test_editing_a_profile_validates_attributes(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    await define_field(client, admin, "seats", "number", entity="customer")
    ticket = await create_ticket(client, admin)
    customer_id = ticket["requester"]["id"]
    b = await browser(admin)
    form = {
        "name": "Alice Liu",
        "tier": "vip",
        "tags": "wholesale, 上海",
        "language": "zh_CN",
        "attr.seats.shown": "1",
        "attr.seats": "12",
    }
    saved = await b.post(f"/customers/{customer_id}", form)
    assert saved.headers["HX-Redirect"] == f"/customers/{customer_id}"
    customer = (await client.get(f"/api/v1/customers/{customer_id}", headers=admin.headers)).json()
    assert (customer["tier"], customer["tags"], customer["attributes"]) == (
        "vip",
        ["wholesale", "上海"],
        {"seats": 12},
    )
    bad = await b.post(f"/customers/{customer_id}", {**form, "attr.seats": "a dozen"})
    assert bad.status_code == 422 and "seats" in bad.text


async def test_merge_two_customers_after_a_preview(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    keep = await create_ticket(
        client, admin, requester={"email": "li@example.cn", "name": "Li Lei"}
    )
    dupe = await create_ticket(
        client, admin, requester={"email": "lilei@mail.example.cn", "name": "李雷"}
    )
    keep_id, dupe_id = keep["requester"]["id"], dupe["requester"]["id"]
    b = await browser(admin)
    search = await b.get(f"/customers/{keep_id}/merge?q=lilei")
    assert f"/customers/{keep_id}/merge?other={dupe_id}" in search.text
    preview = await b.get(f"/customers/{keep_id}/merge?other={dupe_id}")
    assert "lilei@mail.example.cn" in preview.text and "li@example.cn" in preview.text
    assert "This cannot be undone." in preview.text
    done = await b.post(f"/customers/{keep_id}/merge", {"source_id": str(dupe_id)})
    assert done.headers["HX-Redirect"] == f"/customers/{keep_id}"
    moved = (await client.get(f"/api/v1/tickets/{dupe['id']}", headers=admin.headers)).json()
    assert moved["requester"]["id"] == keep_id


async def test_companies_list_and_page(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    company = (
        await client.post(
            "/api/v1/companies",
            json={"name": "上海物流有限公司", "domain": "sh-logistics.cn"},
            headers=admin.headers,
        )
    ).json()
    customer = (
        await client.post(
            "/api/v1/customers",
            json={"name": "Zhang Wei", "email": "zw@sh-logistics.cn", "company_id": company["id"]},
            headers=admin.headers,
        )
    ).json()
    b = await browser(admin)
    listing = await b.get("/companies?q=物流")
    assert "上海物流有限公司" in listing.text
    page = await b.get(f"/companies/{company['id']}")
    assert "Zhang Wei" in page.text and f"/customers/{customer['id']}" in page.text


async def test_field_engineers_may_not_merge_customers(
    browser: SignIn, people: People, client: httpx.AsyncClient, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    engineer = await browser(people.user("field_engineer"))
    response = await engineer.get(f"/customers/{ticket['requester']['id']}/merge")
    assert response.status_code == 403

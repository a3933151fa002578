"""Uploads: stored and checked, attached to a message by their uploader, downloaded safely."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from kefu.config import Settings
from tests.conftest import Actor, People, create_ticket

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\0" * 64


async def upload(
    client: httpx.AsyncClient, actor: Actor, content: bytes, content_type: str, name: str = "f.bin"
) -> httpx.Response:
    return await client.post(
        "/api/v1/attachments", files={"file": (name, content, content_type)}, headers=actor.headers
    )


async def uploaded(
    client: httpx.AsyncClient, actor: Actor, content: bytes, content_type: str, name: str = "f.bin"
) -> dict[str, Any]:
    response = await upload(client, actor, content, content_type, name)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_upload_attach_and_download(
    client: httpx.AsyncClient, agent: Actor, settings: Settings
) -> None:
    photo = await uploaded(client, agent, PNG, "image/png", "broken screen.png")
    assert (photo["content_type"], photo["size"]) == ("image/png", len(PNG))
    assert photo["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (photo["ticket_id"], photo["message_id"]) == (None, None)
    stored = settings.attachments_dir / photo["sha256"][:2] / photo["sha256"]
    assert stored.read_bytes() == PNG
    ticket = await create_ticket(client, agent)
    reply = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "see photo", "attachment_ids": [photo["id"]]},
        headers=agent.headers,
    )
    assert reply.status_code == 201, reply.text
    attached = reply.json()["attachments"]
    assert [(a["id"], a["ticket_id"], a["message_id"]) for a in attached] == [
        (photo["id"], ticket["id"], reply.json()["id"])
    ]
    download = await client.get(attached[0]["url"], headers=agent.headers)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "broken%20screen.png" in download.headers["content-disposition"] or (
        "broken screen.png" in download.headers["content-disposition"]
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox"


async def test_attachment_on_the_first_message(client: httpx.AsyncClient, agent: Actor) -> None:
    pdf = await uploaded(client, agent, PDF, "application/pdf", "invoice.pdf")
    ticket = await create_ticket(client, agent, attachment_ids=[pdf["id"]])
    messages = (
        await client.get(f"/api/v1/tickets/{ticket['id']}/messages", headers=agent.headers)
    ).json()
    assert [a["id"] for a in messages["items"][0]["attachments"]] == [pdf["id"]]


async def test_an_attachment_only_message(client: httpx.AsyncClient, agent: Actor) -> None:
    pdf = await uploaded(client, agent, PDF, "application/pdf")
    ticket = await create_ticket(client, agent)
    reply = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"attachment_ids": [pdf["id"]]},
        headers=agent.headers,
    )
    assert reply.status_code == 201


async def test_someone_else_s_upload_cannot_be_attached(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    other = people.user("agent")
    theirs = await uploaded(client, other, PNG, "image/png")
    ticket = await create_ticket(client, agent)
    on_reply = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "mine now", "attachment_ids": [theirs["id"]]},
        headers=agent.headers,
    )
    assert on_reply.status_code == 422
    assert on_reply.json()["errors"][0]["loc"] == ["body", "attachment_ids", 0]
    from tests.conftest import ticket_body

    on_create = await client.post(
        "/api/v1/tickets", json=ticket_body(attachment_ids=[theirs["id"]]), headers=agent.headers
    )
    assert on_create.status_code == 422
    assert on_create.json()["errors"][0]["loc"] == ["body", "attachment_ids", 0]
    missing = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "x", "attachment_ids": [999_999]},
        headers=agent.headers,
    )
    assert missing.status_code == 422
    assert (
        await client.get(f"/api/v1/attachments/{theirs['id']}", headers=other.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/attachments/{theirs['id']}", headers=agent.headers)
    ).status_code == 403


async def test_an_attachment_belongs_to_one_message(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    photo = await uploaded(client, agent, PNG, "image/png")
    ticket = await create_ticket(client, agent)
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    first = await client.post(
        url, json={"body": "a", "attachment_ids": [photo["id"]]}, headers=agent.headers
    )
    assert first.status_code == 201
    second = await client.post(
        url, json={"body": "b", "attachment_ids": [photo["id"]]}, headers=agent.headers
    )
    assert second.status_code == 409


async def test_download_follows_the_ticket_s_visibility(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    lead = people.user("supervisor")
    private = people.team(private=True)
    ticket = await create_ticket(client, lead, team_id=private)
    photo = await uploaded(client, lead, PNG, "image/png")
    await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "x", "visibility": "note", "attachment_ids": [photo["id"]]},
        headers=lead.headers,
    )
    assert (
        await client.get(f"/api/v1/attachments/{photo['id']}", headers=lead.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/attachments/{photo['id']}", headers=agent.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/attachments/999999", headers=lead.headers)).status_code == 404
    assert (await client.get(f"/api/v1/attachments/{photo['id']}")).status_code == 401


async def test_size_limit_is_413(
    client: httpx.AsyncClient, agent: Actor, settings: Settings
) -> None:
    limit = settings.max_attachment_bytes
    too_big = await upload(client, agent, b"a" * (limit + 1), "text/plain")
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    way_too_big = await upload(client, agent, b"a" * (limit + 100_000), "text/plain")
    assert way_too_big.status_code == 413
    just_fits = await upload(client, agent, b"a" * limit, "text/plain")
    assert just_fits.status_code == 201
    leftovers = [p for p in settings.attachments_dir.rglob("*") if p.is_file()]
    assert len(leftovers) == 1, "a refused upload leaves no file behind"


async def test_content_must_be_what_it_claims(
    client: httpx.AsyncClient, agent: Actor, settings: Settings
) -> None:
    cases = [
        (PDF, "image/png"),
        (PNG, "application/pdf"),
        (b"<html><script>alert(1)</script></html>", "text/html"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (EXE, "application/octet-stream"),
        (EXE, "application/x-msdownload"),
        (ELF, "text/plain"),
        (b"#!/bin/sh\nrm -rf /\n", "text/plain"),
        (PDF, "application/x-unknown-thing"),
    ]
    for content, declared in cases:
        response = await upload(client, agent, content, declared)
        assert response.status_code == 415, (declared, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert not [p for p in settings.attachments_dir.rglob("*") if p.is_file()]


async def test_octet_stream_is_typed_by_its_content(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    pdf = await uploaded(client, agent, PDF, "application/octet-stream")
    assert pdf["content_type"] == "application/pdf"
    text = await uploaded(client, agent, b"just words", "text/plain; charset=utf-8")
    assert text["content_type"] == "text/plain"


async def test_filenames_cannot_walk_paths(client: httpx.AsyncClient, agent: Actor) -> None:
    evil = await uploaded(client, agent, b"words", "text/plain", "../../etc/passwd")
    assert "/" not in evil["filename"]
    assert evil["filename"].endswith("passwd")

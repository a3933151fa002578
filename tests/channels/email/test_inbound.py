"""The corpus through the one inbound path, seen through the API an agent or a script
uses; the raw-MIME webhook; ``kefu mail ingest``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.channels.email.inbound import ORIGINAL_NAME
from kefu.config import Settings
from kefu.runtime import Runtime
from tests.channels.email.conftest import FIXTURES, fixture, make_account
from tests.channels.email.helpers import ingest, messages, ticket
from tests.conftest import Actor

pytestmark = pytest.mark.usefixtures("client")


async def search(client: httpx.AsyncClient, actor: Actor, q: str) -> list[int]:
    response = await client.get("/api/v1/tickets", params={"q": q}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


async def test_ingested_mail_is_found_by_subject_and_body(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor
) -> None:
    gbk = await ingest(runtime, fixture("gbk_foxmail_new.eml"))
    big5 = await ingest(runtime, fixture("big5_outlook_hk.eml"))
    latin = await ingest(runtime, fixture("latin1_cp1252.eml"))
    assert await search(client, agent, "未发货") == [gbk.ticket_id]  # subject
    assert await search(client, agent, "朱镕基路") == [gbk.ticket_id]  # GBK body
    assert await search(client, agent, "油麻地") == [big5.ticket_id]  # Big5 body
    assert await search(client, agent, "premium plan") == [latin.ticket_id]


async def test_quoted_history_is_not_searched_as_the_customer_s_words(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor
) -> None:
    qq = await ingest(runtime, fixture("qq_reply.eml"))
    assert await search(client, agent, "收到退款") == [qq.ticket_id]
    assert await search(client, agent, "退款已经处理") == []  # only in the quote


async def test_messages_show_html_attachments_and_the_original(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor
) -> None:
    result = await ingest(runtime, fixture("inline_image_nested.eml"))
    [message] = await messages(client, agent, result.ticket_id)
    files = {a["filename"]: a for a in message["attachments"]}
    assert set(files) == {"image001.png", "发票 2024-01.pdf", ORIGINAL_NAME}
    image_url = files["image001.png"]["url"]
    assert f'src="{image_url}"' in message["body_html"]  # cid: pointed at the stored image
    assert "<script" not in message["body_html"]
    assert message["external_id"] == "<CY4PR1101MB2166-inline-1@example.org>"
    assert message["channel"] == "email" and message["author_type"] == "customer"
    original = await client.get(files[ORIGINAL_NAME]["url"], headers=agent.headers)
    assert original.status_code == 200
    assert original.content == fixture("inline_image_nested.eml")
    image = await client.get(image_url, headers=agent.headers)
    assert image.content.startswith(b"\x89PNG")


async def test_an_attachment_over_the_limit_is_named_and_the_original_kept_reduced(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, settings: Settings
) -> None:
    runtime.settings.max_attachment_bytes = 200_000
    result = await ingest(runtime, fixture("huge_attachment.eml"))
    [message] = await messages(client, agent, result.ticket_id)
    assert "Here are the complete logs" in message["body_text"]
    assert "[attachment logs.zip (300004 bytes) was not kept" in message["body_text"]
    [original] = message["attachments"]
    assert original["filename"] == ORIGINAL_NAME and original["size"] <= 200_000
    body = (await client.get(original["url"], headers=agent.headers)).content
    assert b"Message-ID: <huge-attachment-1@example.org>" in body
    assert b"[removed by kefu: logs.zip" in body


async def test_malformed_mail_is_stored_and_described(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor
) -> None:
    result = await ingest(runtime, fixture("malformed_headers.eml"))
    found = await ticket(client, agent, result.ticket_id)
    assert found["subject"] == "紧急：系统无法登录"
    [message] = await messages(client, agent, result.ticket_id)
    assert "密码错误" in message["body_text"]
    encrypted = b"From: a@b.cn\r\nSubject: secret\r\nContent-Type: multipart/encrypted; b=1\r\n\r\n"
    locked = await ingest(runtime, encrypted)
    [message] = await messages(client, agent, locked.ticket_id)
    assert "[unsupported content: an encrypted (PGP) message" in message["body_text"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
async def test_every_fixture_lands_on_a_ticket(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, name: str
) -> None:
    result = await ingest(runtime, fixture(name))
    stored = await messages(client, agent, result.ticket_id)
    assert len(stored) == 1
    assert any(a["filename"] == ORIGINAL_NAME for a in stored[0]["attachments"])


# -- the raw-MIME webhook ---------------------------------------------------------------------
async def test_the_webhook_takes_raw_mime_with_the_token_only(
    client: httpx.AsyncClient, runtime: Runtime, admin: Actor, agent: Actor
) -> None:
    account = await make_account(client, admin)
    response = await client.patch(
        f"/api/v1/channel-accounts/{account['id']}",
        json={"secrets": {"webhook_token": "s3cret-token"}},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    url = account["webhook_url"]
    raw = fixture("gmail_reply.eml")
    refused = await client.post(url, content=raw, headers={"X-Kefu-Token": "wrong"})
    assert refused.status_code == 401
    assert await search(client, agent, "SF1234567890") == []
    accepted = await client.post(url, content=raw, headers={"X-Kefu-Token": "s3cret-token"})
    assert accepted.status_code == 202
    assert len(await search(client, agent, "SF1234567890")) == 1
    empty = await client.post(url, content=b"", headers={"X-Kefu-Token": "s3cret-token"})
    assert empty.status_code == 400


# -- kefu mail ingest ----------------------------------------------------------------------
def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        KEFU_DATA_DIR=str(settings.data_dir),
        KEFU_DATABASE_URL=settings.resolved_database_url(),
        KEFU_SECRET_KEY=settings.secret_key,
    )
    return env


async def test_kefu_mail_ingest_prints_the_ticket_of_each_message(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, settings: Settings
) -> None:
    first = await ingest(runtime, fixture("gbk_foxmail_new.eml"))
    kefu = [sys.executable, "-m", "kefu.cli", "mail", "ingest"]
    files = [str(FIXTURES / "big5_outlook_hk.eml"), str(FIXTURES / "gbk_foxmail_new.eml")]
    done = subprocess.run(
        [*kefu, *files], env=_cli_env(settings), capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    new_id, same_id = (int(line) for line in done.stdout.decode().split())
    assert same_id == first.ticket_id and new_id != first.ticket_id
    piped = subprocess.run(
        kefu,
        input=fixture("windows1251.eml"),
        env=_cli_env(settings),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr.decode()
    found: dict[str, Any] = await ticket(client, agent, int(piped.stdout.decode()))
    assert found["subject"] == "Не работает оплата"


async def test_kefu_mail_ingest_fails_loudly_on_a_missing_account(settings: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "mail", "ingest", "--account", "999"],
        input=fixture("windows1251.eml"),
        env=_cli_env(settings),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert b"999" in done.stderr


def test_fixture_corpus_is_present() -> None:
    assert len(list(Path(FIXTURES).glob("*.eml"))) >= 19

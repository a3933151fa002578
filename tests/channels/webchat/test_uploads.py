"""Visitors' files: uploaded with the conversation token, then named by a message."""

from __future__ import annotations

import base64

import httpx

from kefu.runtime import Runtime
from tests.channels.webchat.conftest import Live, Visitor, make_account
from tests.channels.webchat.test_protocol import messages
from tests.conftest import Actor

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


async def upload(
    http: httpx.AsyncClient, token: str, name: str, data: bytes, ctype: str
) -> httpx.Response:
    return await http.post(
        "/api/v1/webchat/uploads", data={"token": token}, files={"file": (name, data, ctype)}
    )


async def test_a_file_is_uploaded_then_sent_and_both_sides_can_open_it(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account)
    await visitor.send(type="profile", name="Ada")
    assert (await visitor.expect("session"))["session"]
    visitor.session = next(f["session"] for f in visitor.seen if f["type"] == "session")
    sent = await upload(http, visitor.session, "receipt.png", PNG, "image/png")
    assert sent.status_code == 201 and sent.headers["access-control-allow-origin"] == "*"
    file_id = sent.json()["id"]
    ack = await visitor.say("", uploads=[file_id])
    frame = await visitor.expect("message", lambda f: f["seq"] == ack["seq"])
    [shown] = frame["files"]
    assert shown["name"] == "receipt.png" and shown["type"] == "image/png"
    got = await http.get(shown["url"])
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["x-content-type-options"] == "nosniff"
    forged = shown["url"][:-4] + "0000"
    assert (await http.get(forged)).status_code == 404
    [stored] = (await messages(http, agent, ack["ticket_id"]))[0]["attachments"]
    assert stored["filename"] == "receipt.png" and stored["size"] == len(PNG)
    await visitor.close()


async def test_uploads_are_refused_when_too_large_dangerous_or_unauthorised(
    live: Live, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    small = make_account(runtime, max_upload_bytes=1000)
    visitor = await Visitor.connect(live, small)
    assert visitor.welcome["max_upload_bytes"] == 1000
    await visitor.say("hi")
    assert visitor.session
    too_big = await upload(http, visitor.session, "big.txt", b"x" * 2000, "text/plain")
    assert too_big.status_code == 413 and too_big.headers["access-control-allow-origin"] == "*"
    script = await upload(http, visitor.session, "page.html", b"<script>x</script>", "text/html")
    assert script.status_code == 415
    exe = await upload(http, visitor.session, "a.txt", b"MZ\x90\x00" + b"\x00" * 60, "text/plain")
    assert exe.status_code == 415
    stranger = await upload(http, "not-a-session-token", "a.txt", b"hello", "text/plain")
    assert stranger.status_code == 404
    await visitor.send(type="message", client_id="c-file", text="see file", uploads=[424242])
    refused = await visitor.expect("error")
    assert refused["code"] == "upload_missing" and refused["client_id"] == "c-file"
    await visitor.close()

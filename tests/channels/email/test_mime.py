"""The MIME corpus parsed: charsets, encoded words, bodies, parts, quotes, automation."""

from __future__ import annotations

import pytest

from kefu.channels.base import DeliveryUpdate, InboundMessage
from kefu.channels.email import charsets, mime, quotes, threads
from kefu.channels.email.account import EmailAccount
from kefu.channels.email.inbound import ORIGINAL_NAME, reduced_original, to_items
from tests.channels.email.conftest import fixture

ACCOUNT = EmailAccount(address="support@example.com")


def message_of(name: str) -> InboundMessage:
    item = to_items(fixture(name), ACCOUNT)[0]
    assert isinstance(item, InboundMessage)
    return item


@pytest.mark.parametrize(
    ("name", "subject", "sender", "text"),
    [
        (
            "gbk_foxmail_new.eml",
            "订单未发货 - 王喆",
            ("王喆", "wangzhe@foxmail.com"),
            "朱镕基路的王喆",
        ),
        (
            "big5_outlook_hk.eml",
            "退貨政策查詢",
            ("陳大文", "taiman.chan@example.com.hk"),
            "油麻地𡃁仔街",
        ),
        (
            "latin1_cp1252.eml",
            "Question sur le prix « premium »",
            ("Renée Dupré", "renee@cafe.example.fr"),
            "The “premium” plan costs 49 € —",
        ),
        (
            "windows1251.eml",
            "Не работает оплата",
            ("Иван Петров", "ivan@example.ru"),
            "Оплата картой не проходит",
        ),
        (
            "encoded_words_split.eml",
            "关于合同续签的问题",
            ("周杰", "zhoujie@example.com.cn"),
            "合同下个月到期",
        ),
        (
            "utf8_raw_headers.eml",
            "帳號被鎖定了 / アカウント",
            ("林小姐", "lin@example.tw"),
            "アカウントがロックされました",
        ),
        ("qq_reply.eml", "回复：退款申请", ("李雷", "12345678@qq.com"), "已经收到退款了"),
    ],
)
def test_every_charset_and_encoded_word_is_read(
    name: str, subject: str, sender: tuple[str, str], text: str
) -> None:
    message = message_of(name)
    assert message.subject == subject
    assert (message.sender_name, message.sender_value) == sender
    assert text in message.text
    assert "\ufffd" not in message.text + message.subject


def test_gb2312_label_is_read_as_gb18030() -> None:
    data = "朱镕基 王喆 𠮷".encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb2312")
    assert charsets.decode_bytes(data, "gb2312") == "朱镕基 王喆 𠮷"
    assert (
        charsets.decode_header("=?gb2312?B?" + __import__("base64").b64encode(data).decode() + "?=")
        == "朱镕基 王喆 𠮷"
    )


def test_unlabelled_and_mislabelled_bytes_are_guessed() -> None:
    assert charsets.decode_bytes("退款".encode("gbk"), "us-ascii") == "退款"
    assert charsets.decode_bytes("退款".encode(), None) == "退款"
    assert charsets.decode_bytes("Café".encode("cp1252"), None) == "Café"
    assert charsets.decode_bytes(b"\x93quoted\x94", "iso-8859-1") == "“quoted”"


def test_encoded_words_as_broken_mailers_write_them() -> None:
    # no space between words, a word inside quotes, a lower-case q word with underscores,
    # an unknown charset, bad base64 padding
    assert charsets.decode_header("=?utf-8?B?5L2g?==?utf-8?B?5aW9?=") == "你好"
    assert charsets.decode_header('"=?GBK?B?1cXI/Q==?=" <a@b.c>') == '"张三" <a@b.c>'
    assert charsets.decode_header("=?iso-8859-1?q?caf=E9_cr=E8me?=") == "café crème"
    assert charsets.decode_header("=?x-unknown?B?5L2g5aW9?=") == "你好"
    assert charsets.decode_header("=?utf-8?B?5L2g5aW9?=") == charsets.decode_header(
        "=?utf-8?B?5L2g5aW9==?="
    )
    assert charsets.decode_header("=?UTF-8*zh?B?5L2g5aW9?=") == "你好"


def test_multipart_alternative_prefers_html_and_keeps_text() -> None:
    mail = mime.parse(fixture("big5_outlook_hk.eml"))
    assert mail.html.startswith("<html><body><p>請問")
    assert mail.text.startswith("請問你們的退貨政策")


def test_inline_images_and_attachments_of_nested_multiparts() -> None:
    message = message_of("inline_image_nested.eml")
    names = {a.filename: a for a in message.attachments}
    assert names["image001.png"].content_id == "image001.png@01DA4E2B.5C3D1E20"
    assert names["image001.png"].data.startswith(b"\x89PNG")
    assert names["发票 2024-01.pdf"].content_type == "application/pdf"
    assert names[ORIGINAL_NAME].data == fixture("inline_image_nested.eml")
    assert 'src="cid:image001.png@01DA4E2B.5C3D1E20"' in (message.html or "")
    assert "Invoice attached." in message.text


def test_attachment_names_in_encoded_words_and_rfc2231() -> None:
    names = [a.filename for a in message_of("latin1_cp1252.eml").attachments]
    assert "Zażółć gęślą jaźń.txt" in names


def test_forwarded_message_is_kept_as_an_eml_attachment() -> None:
    message = message_of("forward_as_attachment.eml")
    forwarded = [a for a in message.attachments if a.filename == "Verify your account now.eml"]
    assert forwarded and b"Message-ID: <phish-1@examp1e-bank.test>" in forwarded[0].data
    assert "Click" not in message.text  # the forwarded mail is not shown as the customer's words


@pytest.mark.parametrize(
    ("name", "kept", "dropped"),
    [
        ("gmail_reply.eml", "tracking number is", "could you send us"),
        ("outlook_reply.eml", "should be 1,200 EUR", "which amount do you expect"),
        ("qq_reply.eml", "已经收到退款了", "退款已经处理"),
        ("netease163_reply.eml", "发票抬头写错了", "请问发票抬头是什么"),
        ("apple_mail_reply.eml", "I can sign in again", "try the link again"),
        ("foxmail_reply_text.eml", "还是报错 0x80070005", "管理员身份运行"),
    ],
)
def test_quoted_replies_are_stripped_for_display_and_kept_in_the_original(
    name: str, kept: str, dropped: str
) -> None:
    message = message_of(name)
    assert kept in message.text and dropped not in message.text
    if message.html:
        assert kept in message.html and dropped not in message.html
    original = next(a for a in message.attachments if a.filename == ORIGINAL_NAME)
    assert original.data == fixture(name) and original.content_type == "message/rfc822"


def test_stripping_never_leaves_an_empty_message() -> None:
    bottom_posted = "> what is the price?\n> thanks\n"
    assert quotes.strip_text(bottom_posted) == bottom_posted.strip()
    only_quote = '<div class="gmail_quote">On Mon, Bob wrote:<blockquote>hi</blockquote></div>'
    assert quotes.strip_html(only_quote) == only_quote


def test_a_person_writing_from_and_to_lines_is_not_a_quote() -> None:
    text = "Please book the flight.\nFrom: Beijing\nTo: Shanghai\nDate: 1 May\nThanks"
    assert quotes.strip_text(text) == text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("out_of_office.eml", "Auto-Submitted: auto-replied"),
        ("list_newsletter.eml", "Precedence: bulk"),
        ("bounce_postfix.eml", "Auto-Submitted: auto-replied"),
        ("bounce_qmail_plain.eml", "bounce"),
    ],
)
def test_automated_mail_is_recognised(name: str, reason: str) -> None:
    message = message_of(name)
    assert message.automated and message.extra["automated_reason"] == reason


@pytest.mark.parametrize(
    "name",
    [
        "gbk_foxmail_new.eml",
        "gmail_reply.eml",
        "qq_reply.eml",
        "outlook_reply.eml",
        "inline_image_nested.eml",
    ],
)
def test_people_are_not_automated(name: str) -> None:
    assert not message_of(name).automated


def test_loops_and_subject_phrases() -> None:
    own = mime.parse(b"From: Support <support+t-abc@example.com>\r\nSubject: hi\r\n\r\nx")
    assert threads.automated_reason(own, ["support@example.com"], "example.com")
    ours = mime.parse(b"From: a@b.c\r\nMessage-ID: <kefu.1.2.abc@example.com>\r\n\r\nx")
    assert threads.automated_reason(ours, [], "example.com") == "kefu's own message (loop)"
    auto = mime.parse("From: a@b.c\r\nSubject: 自动回复: 你好\r\n\r\nx".encode())
    assert threads.automated_reason(auto, [], "example.com") == "auto-reply subject"
    for subject in ("自动回复功能坏了", "退信用卡年费", "Re: out of office hours"):
        person = mime.parse(f"From: a@b.c\r\nSubject: {subject}\r\n\r\nx".encode())
        assert threads.automated_reason(person, [], "example.com") is None, subject


def test_bounce_reports_the_failed_message() -> None:
    items = to_items(fixture("bounce_postfix.eml"), ACCOUNT)
    message, update = items
    assert isinstance(message, InboundMessage) and isinstance(update, DeliveryUpdate)
    assert update.external_id == "<kefu.55.101.0123456789ab@example.com>"
    assert update.status == "failed" and "User unknown" in (update.error or "")
    assert "<kefu.55.101.0123456789ab@example.com>" in message.in_reply_to


def test_malformed_mail_keeps_what_can_be_read() -> None:
    message = message_of("malformed_headers.eml")
    assert message.subject == "紧急：系统无法登录"  # raw 8-bit GBK header
    assert message.sender_value == "sunwukong@example.cn"
    assert "密码错误" in message.text and "still readable" in message.text
    assert message.external_id and message.external_id.endswith("@missing-message-id.kefu>")
    assert message.external_id == message_of("malformed_headers.eml").external_id


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b'From: \r\nSubject: =?utf-8?B?broken\r\nContent-Type: text/html; charset="\r\n\r\n<p>x',
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b'
        b"\r\n\r\n--b\r\n\r\nx\r\n--b--",
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIIB",
    ],
)
def test_anything_parses_without_raising(raw: bytes) -> None:
    items = to_items(raw, ACCOUNT)
    message = items[0]
    assert isinstance(message, InboundMessage)
    assert message.sender_value  # a placeholder sender when none can be read
    assert any(a.filename == ORIGINAL_NAME for a in message.attachments)


def test_no_sender_is_described_not_dropped() -> None:
    message = message_of_raw(b"From: nobody\r\nSubject: x\r\n\r\nbody")
    assert message.sender_value == "unknown-sender@example.com"
    assert "sender address could not be read" in (message.unsupported or "")


def test_encrypted_mail_is_described() -> None:
    raw = b"From: a@b.cn\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data"
    raw += b"\r\n\r\nMIIB"
    assert "encrypted" in (message_of_raw(raw).unsupported or "")


def message_of_raw(raw: bytes) -> InboundMessage:
    item = to_items(raw, ACCOUNT)[0]
    assert isinstance(item, InboundMessage)
    return item


def test_an_oversized_original_keeps_headers_and_text() -> None:
    raw = fixture("huge_attachment.eml")
    reduced = reduced_original(raw, 50_000)
    assert len(reduced) <= 50_000
    assert b"Message-ID: <huge-attachment-1@example.org>" in reduced
    assert b"Here are the complete logs" in reduced
    assert b"[removed by kefu: logs.zip" in reduced

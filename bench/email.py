"""bench.email: inbound mail parsed, threaded and stored, per second.

Generates a seeded corpus of raw RFC 822 messages as customers send them: new mail from
1,000 people and, for 40 % of the mail, replies to an earlier message of the same
conversation (In-Reply-To / References, "Re:" subject, the quoted history below), in
UTF-8, GBK and Big5, plain text or multipart/alternative HTML, 10 % with a PDF attached,
2 % out-of-office replies. Every message goes through the one inbound path IMAP, the
SMTP listener and ``kefu mail ingest`` use (``channels.email.inbound.ingest_raw``:
MIME parsing, quote stripping, the raw original and attachments to the file store, one
write job with identity resolution, threading and the message), ``--concurrency`` at a
time per process, in ``--processes`` kefu processes sharing the database as
``kefu serve --workers N`` does (Python runs one thread at a time per process: a second
process is what uses the second core). Customers are split between the processes, and
a reply comes at least 100 mails after the message it answers (a mailbox delivers in
order). Afterwards every reply is checked to be on its conversation's ticket.

    python -m bench.email [--emails N] [--processes P] [--concurrency C]
                          [--db sqlite|postgresql|all]

The last line is one JSON object: {"bench": "email", "db", "emails", "per_s", "p50_ms",
"p99_ms", ...} (with --db all, "results" holds each database's figures).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu import migrate
from kefu.channels import delivery
from kefu.channels import service as channels
from kefu.channels.email import adapter as _adapter  # noqa: F401  (registers "email")
from kefu.channels.email.inbound import email_account, ingest_raw
from kefu.channels.schemas import ChannelAccountCreate
from kefu.config import Settings
from kefu.db import normalise_url
from kefu.runtime import Runtime

PG_NAME = "kefu_bench_email"
PEOPLE = 1_000
REPLY_DISTANCE = 100
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SUBJECTS = [
    "Refund for order {n}",
    "Parcel {n} has not arrived",
    "Cannot log in to my account",
    "订单{n}什么时候发货？",
    "申请退款：订单{n}",
    "發票抬頭寫錯了 {n}",
]
BODIES = [
    "Hello, my order {n} still shows as processing. Could you check what is going on?",
    "您好，我的订单{n}已经一周没有物流更新了，请帮忙查一下。",
    "請問訂單{n}可以改寄送地址嗎？謝謝。",
    "The invoice for order {n} has the wrong company name. Please send a corrected one.",
]
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"


@dataclass
class Mail:
    raw: bytes
    conversation: int  # the mail that started it; replies must land on its ticket
    is_reply: bool
    person: int


def _charset(text: str, rng: random.Random) -> str:
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        try:
            text.encode("gbk")
            return rng.choice(["utf-8", "gbk"])
        except UnicodeEncodeError:
            return "big5"
    return "utf-8"


def _body_part(body: str, charset: str, html: bool) -> str:
    data = base64.b64encode(body.encode(charset, "replace")).decode()
    if not html:
        return (
            f'Content-Type: text/plain; charset="{charset}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{data}\r\n"
        )
    markup = "<div>" + body.replace("\n", "<br>") + "</div>"
    html_data = base64.b64encode(markup.encode(charset, "replace")).decode()
    return (
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        f'--alt\r\nContent-Type: text/plain; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{data}\r\n"
        f'--alt\r\nContent-Type: text/html; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{html_data}\r\n--alt--\r\n"
    )


def _raw(headers: dict[str, str], body: str, rng: random.Random, attach: bool) -> bytes:
    charset = _charset(body + headers["Subject"], rng)
    subject = "=?utf-8?B?" + base64.b64encode(headers["Subject"].encode()).decode() + "?="
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Subject": subject}.items())
    head += "MIME-Version: 1.0\r\n"
    part = _body_part(body, charset, html=rng.random() < 0.5)
    if not attach:
        return (head + part).encode()
    pdf = base64.b64encode(PDF).decode()
    return (
        head
        + 'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n'
        + part
        + '--mix\r\nContent-Type: application/pdf; name="invoice.pdf"\r\n'
        + 'Content-Disposition: attachment; filename="invoice.pdf"\r\n'
        + f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--mix--\r\n"
    ).encode()


def corpus(count: int, seed: int = 7) -> list[Mail]:
    rng = random.Random(seed)
    mails: list[Mail] = []
    started: list[
        tuple[int, int, str, str, str, str]
    ] = []  # index, person, sender, subject, id, body
    for i in range(count):
        when = format_datetime(T0 + timedelta(seconds=i))
        msgid = f"<{i}.{rng.getrandbits(48):x}@mail.customer{i % 50}.example>"
        answerable = [c for c in started if c[0] < i - REPLY_DISTANCE]
        if answerable and rng.random() < 0.4:
            root, person, sender, subject, previous, said = rng.choice(answerable)
            auto = rng.random() < 0.05
            body = (
                "I am out of the office."
                if auto
                else f"Any news? {rng.randint(1, 99)}\n\nOn Mon, Kefu Support wrote:\n> "
                + said.replace("\n", "\n> ")
            )
            headers = {
                "From": sender,
                "To": "support@example.com",
                "Date": when,
                "Message-ID": msgid,
                "Subject": ("Automatic reply: " if auto else "Re: ") + subject,
                "In-Reply-To": previous,
                "References": previous,
            }
            if auto:
                headers["Auto-Submitted"] = "auto-replied"
            mails.append(Mail(_raw(headers, body, rng, False), root, True, person))
            continue
        person = rng.randrange(PEOPLE)
        n = rng.randint(1000, 99999)
        sender = f"Customer {person} <customer{person}@mail.customer{person % 50}.example>"
        subject = rng.choice(SUBJECTS).format(n=n)
        body = rng.choice(BODIES).format(n=n)
        headers = {
            "From": sender,
            "To": "support@example.com",
            "Date": when,
            "Message-ID": msgid,
            "Subject": subject,
        }
        mails.append(Mail(_raw(headers, body, rng, rng.random() < 0.1), i, False, person))
        started.append((i, person, sender, subject, msgid, body))
    return mails


# -- running ---------------------------------------------------------------------------------
async def ingest_all(
    runtime: Runtime, account_id: int, mails: list[Mail], concurrency: int
) -> tuple[list[float], list[int]]:
    """Ingest the mails, ``concurrency`` at a time, in order; (latency ms, ticket) of each."""
    account = await email_account(runtime, account_id)
    latencies = [0.0] * len(mails)
    tickets = [0] * len(mails)
    queue = iter(range(len(mails)))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            result = (await ingest_raw(runtime, mails[i].raw, account_id, account=account))[0]
            latencies[i] = (time.perf_counter() - started) * 1000
            tickets[i] = result.ticket_id

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, tickets


def _settings(url: str, workdir: Path) -> Settings:
    return Settings(data_dir=workdir, database_url=url, secret_key="bench", email_poll_s=0)


def worker_process(
    url: str, workdir: Path, account_id: int, mails: list[Mail], concurrency: int, start: Any
) -> tuple[list[float], list[int], float, float, float]:
    """One kefu process: (latencies, tickets, start time, end time, CPU seconds used)."""
    runtime = Runtime.create(_settings(url, workdir))
    runtime.secret_key = "bench"

    async def go() -> tuple[list[float], list[int], float, float, float]:
        runtime.bus.attach(asyncio.get_running_loop())
        runtime.db.start()
        await ingest_all(runtime, account_id, corpus(30, seed=os.getpid()), concurrency)
        start.wait()
        began, cpu = time.time(), time.process_time()
        latencies, tickets = await ingest_all(runtime, account_id, mails, concurrency)
        ended, cpu = time.time(), time.process_time() - cpu
        await runtime.bus.drain()
        return latencies, tickets, began, ended, cpu

    try:
        return asyncio.run(go())
    finally:
        runtime.db.close()


def prepare(url: str, workdir: Path) -> int:
    runtime = Runtime.create(_settings(url, workdir))
    runtime.secret_key = "bench"
    migrate.upgrade(runtime.db.engine)
    account = runtime.db.run_write(
        channels.create_account,
        delivery.secret_box(runtime),
        ChannelAccountCreate(kind="email", name="Support", address="support@example.com"),
    )
    runtime.db.close()
    return account.id


def run(
    db: str, url: str, workdir: Path, emails: int, processes: int, concurrency: int
) -> dict[str, Any]:
    account_id = prepare(url, workdir)
    mails = corpus(emails)
    shares = [
        [i for i, m in enumerate(mails) if m.person % processes == p] for p in range(processes)
    ]
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Barrier(processes)
    with context.Pool(processes) as pool:
        pending = [
            pool.apply_async(
                worker_process,
                (url, workdir, account_id, [mails[i] for i in share], concurrency, start),
            )
            for share in shares
        ]
        outcomes = [p.get(timeout=3600) for p in pending]
    latencies: list[float] = []
    tickets = [0] * len(mails)
    for share, (lat, tix, *_) in zip(shares, outcomes, strict=True):
        latencies += lat
        for i, ticket_id in zip(share, tix, strict=True):
            tickets[i] = ticket_id
    elapsed = max(o[3] for o in outcomes) - min(o[2] for o in outcomes)
    replies = [i for i, m in enumerate(mails) if m.is_reply]
    threaded = sum(1 for i in replies if tickets[i] == tickets[mails[i].conversation])
    ordered = sorted(latencies)
    cpu_ms = sum(o[4] for o in outcomes) * 1000 / emails
    return {
        "bench": "email",
        "db": db,
        "emails": emails,
        "processes": processes,
        "concurrency": concurrency,
        "per_s": round(emails / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)], 2),
        "cpu_ms": round(cpu_ms, 2),  # kefu's CPU per mail: the steady figure on a shared box
        "per_cpu_s": round(1000 / cpu_ms, 1),  # mails per second of one busy core
        "replies": len(replies),
        "replies_threaded": threaded,
        "tickets": len(set(tickets)),
        "bytes": sum(len(m.raw) for m in mails),
    }


@contextmanager
def pg_database(base: str) -> Iterator[str]:
    url = make_url(normalise_url(base))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def execute(sql: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(sql))

    execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{PG_NAME}"')
    try:
        yield url.set(database=PG_NAME).render_as_string(hide_password=False)
    finally:
        execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        admin.dispose()


def table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'db':<11}{'emails':>8}{'procs':>6}{'conc':>6}{'per s':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'cpu ms':>8}  replies threaded"
    )
    for r in rows:
        print(
            f"{r['db']:<11}{r['emails']:>8}{r['processes']:>6}{r['concurrency']:>6}{r['per_s']:>9}"
            f"{r['p50_ms']:>9}{r['p99_ms']:>9}{r['cpu_ms']:>8}"
            f"  {r['replies_threaded']}/{r['replies']}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=4_000)
    parser.add_argument("--processes", type=int, default=2, help="kefu processes (cores)")
    parser.add_argument("--concurrency", type=int, default=16, help="Mails in flight per process")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args(argv)
    pg_url = os.environ.get("KEFU_BENCH_DATABASE_URL")
    rows: list[dict[str, Any]] = []
    if args.db in ("sqlite", "all"):
        with tempfile.TemporaryDirectory(prefix="kefu-bench-email-") as tmp:
            rows.append(
                run(
                    "sqlite",
                    f"sqlite:///{tmp}/kefu.db",
                    Path(tmp),
                    args.emails,
                    args.processes,
                    args.concurrency,
                )
            )
    if args.db in ("postgresql", "all") and pg_url:
        with pg_database(pg_url) as url, tempfile.TemporaryDirectory() as tmp:
            rows.append(
                run("postgresql", url, Path(tmp), args.emails, args.processes, args.concurrency)
            )
    elif args.db == "postgresql":
        sys.exit("set KEFU_BENCH_DATABASE_URL to a PostgreSQL server")
    table(rows)
    if not rows:
        sys.exit("nothing ran")
    last = dict(rows[0])
    if len(rows) > 1:
        last["results"] = rows
    print(json.dumps(last))


if __name__ == "__main__":
    main()

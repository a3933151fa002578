"""Content-addressed file storage under the data dir, with size and content-type checks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype

from kefu.kit.errors import DomainError

CHUNK = 1 << 16

# What kefu stores. HTML, SVG, scripts and executables are refused: served back to a
# browser they would run in kefu's origin, and nothing a customer sends needs them.
ALLOWED_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/heic",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "message/rfc822",
    "application/zip",
    "application/x-7z-compressed",
    "application/gzip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "audio/mpeg",
    "audio/wav",
    "audio/x-wav",
    "audio/ogg",
    "audio/amr",
    "audio/mp4",
    "audio/aac",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "application/octet-stream",
}
# Office files are zip containers; sniffing sees zip (or OLE) and that is consistent.
_CONTAINERS = {"application/zip", "application/x-ole-storage", "application/x-cfb"}
_DANGEROUS = {
    "application/x-executable",
    "application/x-msdownload",
    "application/x-sh",
    "application/x-elf",
    "application/x-mach-binary",
    "application/vnd.microsoft.portable-executable",
}


class UnsupportedType(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 415, "Unsupported media type")


class TooLarge(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The file exceeds the limit of {limit} bytes", 413, "Payload too large")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    path: Path


def store(root: Path, stream: BinaryIO, declared_type: str, limit: int) -> StoredFile:
    """Copy ``stream`` into the store, refusing it if too large or not what it claims."""
    declared = (declared_type or "application/octet-stream").split(";")[0].strip().lower()
    if declared not in ALLOWED_TYPES:
        raise UnsupportedType(f"Files of type {declared} are not accepted")
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        content_type = _checked_type(declared, head)
        final = path_for(root, digest.hexdigest())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StoredFile(digest.hexdigest(), size, content_type, final)


def _checked_type(declared: str, head: bytes) -> str:
    kind = filetype.guess(head)
    sniffed = kind.mime if kind else None
    script = head.startswith(b"#!") and not head.startswith(b"#!AMR")  # AMR audio's magic
    if sniffed in _DANGEROUS or script or head.startswith((b"MZ", b"\x7fELF")):
        raise UnsupportedType("Executable files are not accepted")
    if sniffed is None:
        return declared
    if declared == "application/octet-stream":
        if sniffed not in ALLOWED_TYPES:
            raise UnsupportedType(f"Files of type {sniffed} are not accepted")
        return sniffed
    same_family = sniffed.split("/")[0] == declared.split("/")[0]
    office = "officedocument" in declared or "opendocument" in declared or "ms" in declared
    if sniffed == declared or same_family or (sniffed in _CONTAINERS and office):
        return declared
    raise UnsupportedType(f"The file says it is {declared} but its content is {sniffed}")


def path_for(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256

"""WeChat's message signatures and its "safe mode" (安全模式) encryption.

Signatures are SHA-1 over the sorted strings (token, timestamp, nonce[, Encrypt]). Safe
mode encrypts each message with AES-256-CBC: the key is base64(EncodingAESKey + "="), the IV
its first 16 bytes; the plaintext is 16 random bytes, the message length (4 bytes, big
endian), the message, then the AppID; it is padded with PKCS#7 to a multiple of 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


def _cipher(encoding_aes_key: str) -> Cipher[modes.CBC]:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except binascii.Error as exc:
        raise ValueError("the EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("the EncodingAESKey must be 43 characters")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def decrypt(encoding_aes_key: str, appid: str, encrypted: str) -> bytes:
    """The message XML inside ``Encrypt``; ValueError when it is not for this AppID."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except binascii.Error as exc:
        raise ValueError("Encrypt is not base64") from exc
    if not data or len(data) % 16:
        raise ValueError("Encrypt is not a whole number of AES blocks")
    decryptor = _cipher(encoding_aes_key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding: wrong EncodingAESKey?")
    content = plain[16:-pad]
    (length,) = struct.unpack(">I", content[:4])
    message, sender = content[4 : 4 + length], content[4 + length :]
    if sender.decode("utf-8", "replace") != appid:
        raise ValueError("the message was encrypted for another AppID")
    return message


def encrypt(encoding_aes_key: str, appid: str, message: bytes) -> str:
    """What WeChat does to a message (kefu uses it for encrypted passive replies and tests)."""
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + appid.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = _cipher(encoding_aes_key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

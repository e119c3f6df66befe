"""Identifier factories shaped like AWS's, all drawn from one seeded RNG so a seed replays byte for byte."""

from __future__ import annotations

import random
from base64 import b32encode, b64encode

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant nibble
# Public-looking first octets (no private, loopback, multicast or documentation ranges).
_OCTETS = (13, 20, 63, 72, 81, 86, 98, 104, 147, 185, 203, 212)
_AWS_OCTETS = (3, 18, 34, 35, 44, 52, 54)  # what EC2 and Lambda egress addresses look like


class Ids:
    """Fast, deterministic ids: formatted `random.Random` bits, never `uuid`/`secrets` (not seedable)."""

    __slots__ = ("_bits", "_bytes", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._bits = rng.getrandbits
        self._bytes = rng.randbytes

    def uuid(self) -> str:
        """A version-4 shaped UUID (eventID, requestID, sharedEventID)."""
        h = self._bytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def key(self, prefix: str) -> str:
        """An access key id: AKIA/ASIA plus 16 base32 characters, 20 in all like the real ones."""
        return prefix + b32encode(self._bytes(10)).decode()

    def unique_id(self, prefix: str) -> str:
        """An IAM unique id (AIDA/AROA plus 17 characters, 21 in all)."""
        return prefix + b32encode(self._bytes(11)).decode()[:17]

    def token(self) -> str:
        """A fake session token: the right look and length class, no real secret behind it."""
        return "IQoJb3JpZ2luX2VjE" + b64encode(self._bytes(294)).decode()

    def hex(self, n: int) -> str:
        return f"{self._bits(4 * n):0{n}x}"

    def alnum(self, n: int) -> str:
        return "".join(self._rng.choices(_ALNUM, k=n))

    def lower(self, n: int) -> str:
        return "".join(self._rng.choices(_LOWER, k=n))

    def request_id_s3(self) -> str:
        """S3 request ids are 16 upper-case hex digits, not UUIDs."""
        return f"{self._bits(64):016X}"

    def account_id(self) -> str:
        return str(self._rng.randrange(100_000_000_000, 999_999_999_999))

    def ip(self, *, aws: bool = False) -> str:
        r = self._rng.randrange
        octets = _AWS_OCTETS if aws else _OCTETS
        return f"{octets[r(len(octets))]}.{r(256)}.{r(256)}.{r(1, 255)}"

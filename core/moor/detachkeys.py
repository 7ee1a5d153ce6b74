"""Docker's ``--detach-keys`` syntax (``ctrl-p,ctrl-q``), shared by the CLI and the daemon."""

from __future__ import annotations

from moor.errors import InvalidParameter

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q
_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str) -> bytes:
    if not text:
        return DEFAULT_DETACH_KEYS
    keys = b""
    for part in text.split(","):
        part = part.strip().lower()
        if part.startswith("ctrl-") and len(part) == 6:
            char = part[5]
            if "a" <= char <= "z":
                keys += bytes([ord(char) - ord("a") + 1])
            elif char in _SPECIAL:
                keys += bytes([_SPECIAL[char]])
            else:
                raise InvalidParameter(f"Invalid escape keys ({text}) provided")
        elif len(part) == 1:
            keys += part.encode()
        else:
            raise InvalidParameter(f"Invalid escape keys ({text}) provided")
    return keys


class DetachMatcher:
    """Finds the detach sequence in a byte stream; passes everything else through."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return (bytes to forward, whether the sequence was completed)."""
        out = bytearray()
        for byte in data:
            if byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    self.matched = 0
                    return bytes(out), True
                continue
            if self.matched:
                out += self.keys[:self.matched]
                self.matched = 0
            out.append(byte)
        return bytes(out), False

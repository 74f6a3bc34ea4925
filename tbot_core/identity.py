"""The bot's identity (``bot_identity.json.enc``): who this bot is and where it trades.

BOT_IDENTITY names the output folder and the core lock; JURISDICTION_CODE picks
the risk-free rate for the Black–Scholes filter; BROKER_CODE tags ledger rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from tbot_core.errors import ConfigError

_IDENTITY = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,63}$")
_JURISDICTION = re.compile(r"^[A-Z]{2}$")
BROKER_CODES = ("PAPER", "ALPACA", "IBKR")


@dataclass(frozen=True)
class Identity:
    BOT_IDENTITY: str
    JURISDICTION_CODE: str
    BROKER_CODE: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def parse(cls, raw: bytes, *, source: str) -> Identity:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ConfigError(f"{source}: not valid JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        missing = {"BOT_IDENTITY", "JURISDICTION_CODE", "BROKER_CODE"} - set(data)
        if missing:
            raise ConfigError(f"{source}: missing field {sorted(missing)[0]}")
        extra = set(data) - {"BOT_IDENTITY", "JURISDICTION_CODE", "BROKER_CODE"}
        if extra:
            raise ConfigError(f"{source}: unknown field {sorted(extra)[0]}")
        return cls.build(data["BOT_IDENTITY"], data["JURISDICTION_CODE"], data["BROKER_CODE"], source=source)

    @classmethod
    def build(cls, bot_identity: object, jurisdiction: object, broker: object, *, source: str = "identity") -> Identity:
        if not isinstance(bot_identity, str) or not _IDENTITY.match(bot_identity):
            raise ConfigError(f"{source}: BOT_IDENTITY: expected A-Z, 0-9 and _ (2-64 chars)")
        if not isinstance(jurisdiction, str) or not _JURISDICTION.match(jurisdiction):
            raise ConfigError(f"{source}: JURISDICTION_CODE: expected a two-letter code like US")
        if broker not in BROKER_CODES:
            raise ConfigError(f"{source}: BROKER_CODE: expected one of {'|'.join(BROKER_CODES)}")
        return cls(bot_identity, jurisdiction, broker)

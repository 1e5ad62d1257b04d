"""Point-in-time restore targets: checking a timestamp or transaction id before litestream sees it.

>>> from datetime import datetime, timezone
>>> timestamp_arg(datetime(2026, 11, 22, 12, 45, 18, tzinfo=timezone.utc))
'2026-11-22T12:45:18Z'
>>> timestamp_arg("2026-11-22T13:45:18+01:00")
'2026-11-22T12:45:18Z'
>>> txid_arg(42), txid_arg("2a"), txid_arg("000000000000002A")
('000000000000002a', '000000000000002a', '000000000000002a')
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import InvalidArgument

_HEX = re.compile(r"^[0-9a-fA-F]{1,16}$")


def timestamp_arg(value: datetime | str) -> str:
    """An aware datetime or an RFC 3339 string, as litestream's ``-timestamp`` (UTC, ``Z``).

    >>> timestamp_arg("2026-11-22 12:00:00")
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: timestamp '2026-11-22 12:00:00' has no time zone:
    add one, e.g. 2026-11-22T12:00:00Z or +01:00
    """
    moment = value
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise InvalidArgument(f"timestamp {value!r} is not RFC 3339: write it like 2026-11-22T12:00:00Z") from None
    if not isinstance(moment, datetime):
        raise InvalidArgument(f"timestamp must be a datetime or an RFC 3339 string, got {type(value).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgument(
            f"timestamp {str(value)!r} has no time zone: add one, e.g. 2026-11-22T12:00:00Z or +01:00"
        )
    utc = moment.astimezone(timezone.utc)
    if utc > datetime.now(timezone.utc):
        raise InvalidArgument(f"timestamp {utc.isoformat()} is in the future: no backup can be that recent")
    return utc.isoformat().replace("+00:00", "Z")


def txid_arg(value: int | str) -> str:
    """A transaction id (an int, or up to 16 hex digits), as litestream's 16-digit ``-txid``.

    >>> txid_arg("xyz")
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: txid 'xyz' is not a transaction id:
    give a positive integer or up to 16 hex digits, e.g. 0000000000000002
    """
    if isinstance(value, bool):
        raise InvalidArgument("txid must be a positive integer or up to 16 hex digits, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _HEX.match(value.strip()):
        number = int(value.strip(), 16)
    else:
        raise InvalidArgument(
            f"txid {value!r} is not a transaction id: "
            "give a positive integer or up to 16 hex digits, e.g. 0000000000000002"
        )
    if not 0 < number < 2**64:
        raise InvalidArgument(f"txid must be between 1 and 2**64 - 1, got {number}")
    return f"{number:016x}"

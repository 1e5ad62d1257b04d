"""pylts' own health as Prometheus metrics, read from a running `Replicator` at each scrape.

Each replicator gets a registry of its own (never prometheus_client's global one), so several
replicators in one process do not collide. Needs ``prometheus_client``: ``pip install "pylts[metrics]"``.
``metrics_registry(replicator)`` reads a `Replicator`; a function giving an `Overview` works too:

>>> from pathlib import Path
>>> from pylts.health import Failing
>>> from pylts.monitor import NOW, DatabaseOverview
>>> failing = Failing(path=Path("/srv/app.db"), error="403", seconds_since_sync=42.0)
>>> db = DatabaseOverview(health=failing, checked_at=NOW)
>>> seen = Overview(checked_at=NOW, running=True, pid=7, restarts=2, last_error="403", recent_restarts=[],
...                 databases=[db])
>>> text = metrics_text(metrics_registry(lambda: seen))  # what GET /metrics on the status port serves
>>> [line for line in text.splitlines() if line.startswith(("pylts_restarts_total", "pylts_seconds_since_sync{"))]
['pylts_restarts_total 2.0', 'pylts_seconds_since_sync{database="/srv/app.db"} 42.0']

`pylts replicate --status-port 9400` serves the same text at ``http://127.0.0.1:9400/metrics``; it is
not litestream's own metrics port (``PYLTS_METRICS_ADDRESS``, which also serves Go's pprof).

Every value comes from the replicator when the scrape happens: health as `Replicator.health`
says it, the restore window as the last check of the replica itself listed it. A value that
is not known yet (no sync, no check) is left out rather than given as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import MissingExtra
from .monitor import Monitored, Overview, overview

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["STATES", "metrics_registry", "metrics_text"]

#: The health states, each a label value of ``pylts_health_state``.
STATES = ("caught_up", "behind", "failing", "restarting", "unknown")
#: The content type of the text format (Prometheus' exposition format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.registry
    except ImportError:
        raise MissingExtra("pylts metrics", "prometheus_client", "metrics") from None
    return prometheus_client


class _Collector:
    """Reads the replicator at each scrape (prometheus_client calls ``collect``)."""

    def __init__(self, read: Callable[[], Overview]) -> None:
        self._read = read

    def collect(self) -> Iterator[Any]:
        core = _prometheus().core
        seen = self._read()
        labels = ["database"]
        up = core.GaugeMetricFamily("pylts_litestream_up", "1 while litestream runs under the supervisor, else 0")
        up.add_metric([], 1.0 if seen.running else 0.0)
        restarts = core.CounterMetricFamily("pylts_restarts", "Restarts of litestream by the supervisor")
        restarts.add_metric([], float(seen.restarts))
        state = core.GaugeMetricFamily(
            "pylts_health_state", "1 for the database's health state, 0 for the others", labels=[*labels, "state"]
        )
        since_sync = core.GaugeMetricFamily(
            "pylts_seconds_since_sync", "Seconds since litestream last completed a sync of the database", labels=labels
        )
        lag = core.GaugeMetricFamily(
            "pylts_lag_seconds",
            "Age of the oldest commit the replica is not known to hold (0: none is pending)",
            labels=labels,
        )
        check_ok = core.GaugeMetricFamily(
            "pylts_replica_check_ok", "1 when the last check of the replica itself found it whole", labels=labels
        )
        check_time = core.GaugeMetricFamily(
            "pylts_replica_check_timestamp_seconds",
            "When the replica itself was last checked (Unix time)",
            labels=labels,
        )
        earliest = core.GaugeMetricFamily(
            "pylts_restore_earliest_timestamp_seconds",
            "The oldest time a restore can reach, as the last replica check listed it (Unix time)",
            labels=labels,
        )
        latest = core.GaugeMetricFamily(
            "pylts_restore_latest_timestamp_seconds",
            "The newest time a restore reaches, as the last replica check listed it (Unix time)",
            labels=labels,
        )
        for db in seen.databases:
            name = [str(db.health.path)]
            for each in STATES:
                state.add_metric([*name, each], 1.0 if db.state == each else 0.0)
            if db.health.seconds_since_sync is not None:
                since_sync.add_metric(name, db.health.seconds_since_sync)
            if db.state in ("caught_up", "behind", "failing"):  # restarting or unknown: litestream cannot say
                lag.add_metric(name, db.health.behind_seconds or 0.0)
            checked = db.replica_check
            if checked is not None:
                check_ok.add_metric(name, 1.0 if checked.check.ok else 0.0)
                check_time.add_metric(name, checked.at.timestamp())
                if checked.check.earliest is not None:
                    earliest.add_metric(name, checked.check.earliest.timestamp())
                if checked.check.latest is not None:
                    latest.add_metric(name, checked.check.latest.timestamp())
        yield from (up, restarts, state, since_sync, lag, check_ok, check_time, earliest, latest)


def metrics_registry(replicator: Monitored | Callable[[], Overview]) -> CollectorRegistry:
    """A registry of its own that reads ``replicator`` (or calls a function giving an `Overview`) at each scrape."""
    prometheus = _prometheus()
    registry: CollectorRegistry = prometheus.registry.CollectorRegistry(auto_describe=False)
    if callable(replicator):
        registry.register(_Collector(replicator))
    else:
        source = replicator
        registry.register(_Collector(lambda: overview(source)))
    return registry


def metrics_text(registry: CollectorRegistry) -> str:
    """The registry's metrics in Prometheus' text format (what a scrape of ``/metrics`` gets)."""
    text: bytes = _prometheus().generate_latest(registry)
    return text.decode()

"""Prometheus metrics (text format 0.0.4) for GET /metrics.

Requests are counted and timed by the process that served them (a histogram per method, route
template and status; its `_count` is the request count). The state of the books (runs and their
duration, discrepancies by code and status, the feed's position) is read from the database at each
scrape, so every process reports the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from service.usecases.system import Books

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; a single-record write is a few ms, a month's run of a large tenant some seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """One per app: its own registry, so that several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self._requests = Histogram(
            "kundval_http_request_duration_seconds",
            "HTTP requests served by this process, by method, route template and status",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self._registry,
        )

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count one request; a path no route matched is `unmatched` (paths would be unbounded)."""
        self._requests.labels(method, route or "unmatched", str(status)).observe(seconds)

    def render(self, books: Books) -> bytes:
        snapshot = CollectorRegistry(auto_describe=False)
        snapshot.register(_BooksCollector(books))
        return generate_latest(self._registry) + generate_latest(snapshot)


class _BooksCollector:
    def __init__(self, books: Books) -> None:
        self.books = books

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("kundval_runs", "Reconciliation runs stored, by kind", labels=["kind"])
        seconds = CounterMetricFamily(
            "kundval_run_duration_seconds", "Seconds the stored runs took in all, by kind", labels=["kind"]
        )
        for kind, count, total in self.books.runs:
            runs.add_metric([kind], count)
            seconds.add_metric([kind], total)
        found = GaugeMetricFamily(
            "kundval_discrepancies",
            "Discrepancies of each period's current run per provider, by code and status",
            labels=["code", "status"],
        )
        for code, status, count in self.books.discrepancies:
            found.add_metric([code, status], count)
        yield from (runs, seconds, found)
        yield GaugeMetricFamily(
            "kundval_feed_position", "The last position of the change feed", value=self.books.feed_position
        )

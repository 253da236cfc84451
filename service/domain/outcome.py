"""What a reconciliation run comes to: its lines, its discrepancies, figures and warnings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from service.domain.discrepancies import Finding
from service.domain.followup import Figures, with_lines
from service.domain.lines import ZERO, InvoiceLine


@dataclass
class Outcome:
    tariffs: list[str]  # the versions that priced the period
    lines: list[InvoiceLine]
    findings: list[Finding]
    metrics: dict[str, dict[str, Any]]  # per provider: the caps' and the checks' figures
    warnings: list[str]
    # Per provider: the follow-up figures the run counted (followup.md 1), before its lines.
    counted: dict[str, Figures] = field(default_factory=dict)
    # Per discrepancy blocking a record that holds no line: what the record would earn if approved.
    at_stake: dict[str, Decimal] = field(default_factory=dict)

    def followup(self, providers: list[str]) -> dict[str, Figures]:
        """Per provider of the run: its follow-up figures, from what the run counted and its lines
        (adjustments booked into the period included)."""
        lines: dict[str, list[InvoiceLine]] = {}
        for line in self.lines:  # once: a city's 60 providers each filtering 93 000 lines took a second
            lines.setdefault(line.provider_id, []).append(line)
        return {
            provider: with_lines(self.counted.get(provider, Figures()), lines.get(provider, []))
            for provider in sorted(set(providers) | set(lines) | set(self.counted))
        }

    def summary(self, providers: list[str]) -> dict[str, Any]:
        """Per provider: paid total, held total, undecided blocking discrepancies and figures; the
        discrepancies by code."""
        per: dict[str, dict[str, Any]] = {}

        def entry(provider: str) -> dict[str, Any]:
            if provider not in per:
                per[provider] = {"provider": provider, "total": ZERO, "held": ZERO, "open_blocking": 0}
            return per[provider]

        for provider in providers:
            entry(provider)
        for line in self.lines:
            entry(line.provider_id)["held" if line.kind == "held" else "total"] += line.amount
        for finding in self.findings:
            if finding.kind == "blocking" and finding.status == "open":
                entry(finding.provider)["open_blocking"] += 1
        for provider, figures in per.items():
            figures["metrics"] = self.metrics.get(provider, {})
        return {
            "providers": [per[p] for p in sorted(per)],
            "discrepancy_counts": dict(sorted(Counter(f.code for f in self.findings).items())),
        }

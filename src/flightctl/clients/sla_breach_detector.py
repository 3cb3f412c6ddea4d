"""sla-breach-detector: the SLA config (PromQL thresholds, settings) and breach statistics."""

from __future__ import annotations

from typing import Any

from flightctl.clients.base import ServiceApi


class SlaBreachDetector(ServiceApi):
    service = "sla-breach-detector"

    def config(self) -> Any:
        return self.http.get("/sla/config")

    def set_config(self, config: dict[str, Any], *, key: str | None = None) -> Any:
        """Replace the whole config; the stored config comes back."""
        return self._change("POST", "/sla/config", config, key)

    def stats(self) -> Any:
        """Breaches per metric since the detector started, last value and no-data count."""
        return self.http.get("/breach/stats")

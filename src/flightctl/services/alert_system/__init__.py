"""alert-system: to-alert-system -> thresholds and alert state -> to-notifier."""

"""Clients the CLI talks to the services through: ``api.ServiceClient`` (HTTP, bearer token,
Idempotency-Key, journal, retries) and, over it, one typed client per service with a public
API: ``user_manager.UserManager``, ``data_collector.DataCollector``,
``alert_notifier.AlertNotifier``, ``sla_breach_detector.SlaBreachDetector``."""

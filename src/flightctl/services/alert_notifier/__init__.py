"""alert-notifier: to-notifier and sla_breach -> Telegram, with a delivery log."""

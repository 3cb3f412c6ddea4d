"""user-manager: users, Telegram chat ids, idempotency keys; gRPC UserService."""

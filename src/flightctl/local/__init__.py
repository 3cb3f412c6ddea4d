"""The local platform: PostgreSQL, Kafka, Prometheus, NGINX and the five services as processes."""

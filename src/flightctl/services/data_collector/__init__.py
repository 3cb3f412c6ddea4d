"""data-collector: interests, OpenSky polling, flights, Kafka producer; gRPC DataCollectorService."""

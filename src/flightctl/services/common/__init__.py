"""Shared runtime of every flightctl service: settings, logging, database, Kafka, gRPC,
metrics, auth and the HTTP app factory. A service folder holds only what makes it different."""

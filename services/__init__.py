"""The five flightctl services and the shared runtime they stand on (services.common)."""

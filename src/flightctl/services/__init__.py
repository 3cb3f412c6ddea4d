"""The five flightctl services and the shared runtime they stand on (flightctl.services.common)."""

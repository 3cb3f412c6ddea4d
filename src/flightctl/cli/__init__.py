"""flightctl's command groups, one module each."""

"""flightctl: operate the flight-monitoring platform, locally or on Kubernetes."""

__version__ = "0.1.0"

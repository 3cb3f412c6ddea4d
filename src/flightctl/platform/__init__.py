"""What the local platform and the clusters share, and the one interface the command layer
drives either through:

- ``layout``: ``$FLIGHTCTL_HOME`` (Home), the service list, the gateway prefixes, the local
  ports and the port checks;
- ``proc``: long-running processes found and stopped by pid file (local components,
  port-forwards);
- ``certs``: the gateway's self-signed certificate;
- ``interface``: ``Platform`` (up, down, status, logs, endpoints, token, versions), implemented
  by ``LocalPlatform`` and ``ClusterPlatform`` (Kind, or an existing cluster), and ``create``
  that picks one for a context.
"""

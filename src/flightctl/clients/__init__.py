"""Typed clients the CLI talks to the services through."""

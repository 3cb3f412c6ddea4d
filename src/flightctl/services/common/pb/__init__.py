"""gRPC stubs generated from protos/."""

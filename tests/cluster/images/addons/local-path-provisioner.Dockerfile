# Dynamic local volumes: local-path-provisioner built from the Go module proxy.
ARG BASE
FROM ${BASE}
COPY local-path-provisioner /usr/local/bin/local-path-provisioner
ENTRYPOINT ["local-path-provisioner"]

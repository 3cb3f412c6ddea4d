# Cluster DNS: CoreDNS built from the Go module proxy, static.
FROM scratch
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]

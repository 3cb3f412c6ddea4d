# The pod sandbox image (containerd's sandbox_image): ../../go/pause, static.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]

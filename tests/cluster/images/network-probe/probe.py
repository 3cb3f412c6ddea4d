"""Fails unless this build step has no network."""

import os
import socket

links = sorted(os.listdir("/sys/class/net"))
assert links == ["lo"], f"network interfaces inside the build: {links}"
for host in ("1.1.1.1", "192.0.2.1"):
    try:
        socket.create_connection((host, 80), timeout=3)
    except OSError as error:
        print(f"no route out ({host}): {error}")
    else:
        raise SystemExit(f"reached {host}:80 from inside the build")
print(f"network interfaces: {links}")

"""Generate kubernetes/base/gateway/nginx.conf, the cluster gateway's NGINX configuration, from
the template the local gateway uses (src/flightctl/deploy/nginx/gateway.conf.template, rendered
by flightctl.deploy.gateway.cluster_config with upstreams by Service name).

    python scripts/gen_gateway_conf.py          # regenerate
    python scripts/gen_gateway_conf.py --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import sys

from flightctl.deploy.gateway import cluster_config, cluster_config_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed file is stale")
    args = parser.parse_args(argv)
    target = cluster_config_file()
    wanted = cluster_config()
    current = target.read_text() if target.exists() else None
    if args.check:
        if current != wanted:
            print(f"{target} is stale: run python scripts/gen_gateway_conf.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        target.write_text(wanted)
        print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

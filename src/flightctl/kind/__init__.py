"""The cluster mode: the Kind cluster flightctl creates, or an existing cluster it deploys into
(``target``); build the images and deliver them (kind load, containerd import, registry push),
create the Secrets, apply kubernetes/, wait for the rollouts; port-forwards; endpoints for the CLI."""

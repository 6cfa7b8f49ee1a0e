"""The Service data plane on every Docker host, in the manner of kube-proxy's iptables mode, plus
cluster DNS and the routes between the hosts' pod subnets.

Pure parts: `model` (Service ports and endpoints), `topology` (who routes to whom), `rules` (the
iptables text), `dnsrecords` (the DNS data). Executors: `iptables`, `routes`, `dnsnode` (through a
node's connection), `service_proxy` (one worker per host). `dnsserver` and `nodehelper` run on
the nodes themselves; `teardown` removes all of it from a host.
"""

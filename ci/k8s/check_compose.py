#!/usr/bin/env python3
"""Cross-checks of k8s/docker/compose.yaml that the Compose Specification schema cannot
make (ci/test-k8s.sh validates it against that schema first).

Usage:
  check_compose.py REPO_ROOT              check REPO_ROOT/k8s/docker/compose.yaml
  check_compose.py --self-test REPO_ROOT  the checks must fail on broken copies

  - every build context and Dockerfile exists; procpulse/<x> images are built from
    k8s/docker/<x>.Dockerfile by some service, so `up --build` needs no registry
  - ingest, the broadcaster, the agent and the load generator: each service's command
    and PROCPULSE_* environment parse with the binary's own clap definition
    (procpulse-config-check; for the load generator also goose's environment fallbacks)
  - every service: non-root user, read_only, cap_drop ALL, no-new-privileges; ports
    published on 127.0.0.1 only (ingest runs without a token here)
  - bind mounts: relative sources exist; host paths only /proc and /etc/passwd, read-only
  - the agent: PROCPULSE_SOURCE procfs, PROCPULSE_PROC_ROOT = where the host's /proc is
    mounted, push URL to the split's listen port
  - the split's nginx.conf: upstreams = the ingest services of route a and route b on
    their port 8000, round-robin (no weights); ingest and broadcaster share one SQLite
    URL on one named volume; loadgen only under a profile
Exits 1 with one line per problem.
"""
import os
import re
import shutil
import sys
import tempfile

import yaml

import config_check

COMPOSE = "k8s/docker/compose.yaml"
HOST_BINDS = {"/proc", "/etc/passwd"}


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def binds(svc):
    """(source, target, read_only) of every volume entry, short or long syntax."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0],
                        len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
    return out


def check(root):
    problems = []
    fail = problems.append
    path = os.path.join(root, COMPOSE)
    base = os.path.dirname(path)
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    services = doc.get("services") or {}
    built = {}
    for name, svc in services.items():
        b = svc.get("build")
        if b is None:
            continue
        ctx = os.path.normpath(os.path.join(base, b if isinstance(b, str) else b.get("context", ".")))
        dockerfile = os.path.join(ctx, "Dockerfile" if isinstance(b, str)
                                  else b.get("dockerfile", "Dockerfile"))
        if not os.path.isdir(ctx):
            fail(f"{name}: build context {ctx} does not exist")
        if not os.path.isfile(dockerfile):
            fail(f"{name}: Dockerfile {dockerfile} does not exist")
        built[svc.get("image")] = os.path.relpath(dockerfile, root)
    for name, svc in services.items():
        where = f"service {name}"
        image = svc.get("image", "")
        m = re.fullmatch(r"procpulse/(\w+):[\w.-]+", image)
        if m:
            want = f"k8s/docker/{m.group(1)}.Dockerfile"
            if built.get(image) != want:
                fail(f"{where}: image {image} is built by no service from {want}")
            binary = f"procpulse-{m.group(1)}"
            # The binary's own parser: flags, values and variables.
            command = svc.get("command") or []
            command = command.split() if isinstance(command, str) else command
            why = config_check.check(binary, command, env_of(svc))
            if why:
                fail(f"{where}: {binary} would not start: {why}")
        user = str(svc.get("user", "")).split(":")[0]
        if user in ("", "0", "root"):
            fail(f"{where}: runs as root (user {svc.get('user')!r})")
        if svc.get("read_only") is not True:
            fail(f"{where}: root file system not read_only")
        if "ALL" not in (svc.get("cap_drop") or []):
            fail(f"{where}: cap_drop lacks ALL")
        if not any(re.fullmatch(r"no-new-privileges(:true)?", o) for o in svc.get("security_opt") or []):
            fail(f"{where}: no no-new-privileges")
        for p in svc.get("ports") or []:
            if not str(p).startswith("127.0.0.1:"):
                fail(f"{where}: port {p} published beyond 127.0.0.1")
        for src, target, ro in binds(svc):
            if src.startswith("."):
                if not os.path.exists(os.path.join(base, src)):
                    fail(f"{where}: bind source {src} does not exist")
            elif src.startswith("/"):
                if src not in HOST_BINDS:
                    fail(f"{where}: host path {src} mounted (only {sorted(HOST_BINDS)})")
                if not ro:
                    fail(f"{where}: host path {src} mounted at {target} is not read-only")
    check_agent(services, fail)
    check_split(base, services, fail)
    check_storage(services, fail)
    lg = services.get("loadgen")
    if lg is not None and not lg.get("profiles"):
        fail("service loadgen: not under a profile (it should run only when asked)")
    return problems


def check_agent(services, fail):
    agent = services.get("agent")
    if agent is None:
        fail("no service agent")
        return
    env = env_of(agent)
    if env.get("PROCPULSE_SOURCE") != "procfs":
        fail(f"service agent: PROCPULSE_SOURCE is {env.get('PROCPULSE_SOURCE')!r}, want procfs")
    proc = [t for s, t, ro in binds(agent) if s == "/proc" and ro]
    if env.get("PROCPULSE_PROC_ROOT") not in proc:
        fail(f"service agent: PROCPULSE_PROC_ROOT {env.get('PROCPULSE_PROC_ROOT')!r} is not "
             f"where the host's /proc is mounted read-only ({proc})")


def check_split(base, services, fail):
    split = services.get("split")
    if split is None:
        fail("no service split")
        return
    conf = next((s for s, t, _ro in binds(split) if t == "/etc/nginx/nginx.conf"), None)
    if not conf or not os.path.isfile(os.path.join(base, conf)):
        fail(f"service split: no nginx.conf mounted from this directory ({conf})")
        return
    with open(os.path.join(base, conf), encoding="utf-8") as f:
        text = re.sub(r"#[^\n]*", "", f.read())
    upstream = re.search(r"upstream\s+\w+\s*\{([^}]*)\}", text)
    servers = re.findall(r"server\s+([^;\s]+)([^;]*);", upstream.group(1)) if upstream else []
    routes = {}
    for addr, params in servers:
        host, _, port = addr.rpartition(":")
        svc = services.get(host)
        route = env_of(svc).get("PROCPULSE_ROUTE") if svc else None
        if svc is None or port != "8000":
            fail(f"split: upstream {addr} is not an ingest service on :8000")
        elif "weight" in params:
            fail(f"split: upstream {addr} has a weight; the split is plain round-robin")
        routes[route] = routes.get(route, 0) + 1
    if routes != {"a": 1, "b": 1}:
        fail(f"split: upstream routes {routes}, want one server of route a and one of route b")
    listen = re.search(r"listen\s+(?:[\d.]+:)?(\d+)\s*;", text)
    push = env_of(services.get("agent") or {}).get("PROCPULSE_PUSH_URL") or ""
    if push and (not listen or not push.startswith(f"http://split:{listen.group(1)}/")):
        fail(f"agent pushes to {push}, not to the split's listen port "
             f"{listen.group(1) if listen else '?'}")


def check_storage(services, fail):
    urls, mounts = set(), set()
    for name in ("ingest-a", "ingest-b", "broadcaster"):
        svc = services.get(name) or {}
        urls.add(env_of(svc).get("PROCPULSE_DATABASE_URL"))
        named = [(s, t) for s, t, _ro in binds(svc) if not s.startswith((".", "/"))]
        mounts.add(tuple(named))
        for s, t in named:
            for url in urls:
                if url and not url.startswith(f"sqlite://{t.rstrip('/')}/"):
                    fail(f"service {name}: {url} is not on the volume {s} at {t}")
    if len(urls) != 1 or None in urls:
        fail(f"ingest-a, ingest-b and broadcaster use different databases: {sorted(map(str, urls))}")
    if len(mounts) != 1:
        fail(f"ingest-a, ingest-b and broadcaster mount different volumes: {sorted(mounts)}")


def _edit(path, old, new):
    def apply(root):
        p = os.path.join(root, path)
        with open(p, encoding="utf-8") as f:
            text = f.read()
        if old not in text:
            raise AssertionError(f"self-test mutation: {old!r} not in {path}")
        with open(p, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))
    return apply


C, N = COMPOSE, "k8s/docker/nginx-split.conf"
MUTATIONS = [
    ("Dockerfile path typo", _edit(C, "k8s/docker/agent.Dockerfile", "k8s/docker/agents.Dockerfile"),
     "agents.Dockerfile does not exist"),
    ("build context gone", _edit(C, "context: ../..", "context: ../../nowhere"),
     "build context"),
    ("misspelt variable", _edit(C, "PROCPULSE_PROC_ROOT", "PROCPULSE_PROCROOT"),
     "PROCPULSE_PROCROOT is not a variable"),
    ("host /proc writable", _edit(C, "/proc:/host/proc:ro", "/proc:/host/proc"),
     "host path /proc mounted at /host/proc is not read-only"),
    ("agent in auto mode", _edit(C, "PROCPULSE_SOURCE: procfs", "PROCPULSE_SOURCE: auto"),
     "want procfs"),
    ("port on every interface", _edit(C, '"127.0.0.1:4000:4000"', '"4000:4000"'),
     "published beyond 127.0.0.1"),
    ("writable root", _edit(C, "  read_only: true\n", "  read_only: false\n"),
     "not read_only"),
    ("split without route b", _edit(N, "    server ingest-b:8000;\n", ""),
     "want one server of route a and one of route b"),
    ("weighted split", _edit(N, "server ingest-a:8000;", "server ingest-a:8000 weight=3;"),
     "has a weight"),
    ("push past the split", _edit(C, "http://split:8080/api/v1/metrics",
                                  "http://split:80/api/v1/metrics"), "not to the split's listen"),
    ("broadcaster on another database", _edit(
        C, "PROCPULSE_DATABASE_URL: sqlite:///home/nonroot/procpulse.db\n      PROCPULSE_ALLOWED",
        "PROCPULSE_DATABASE_URL: sqlite:///home/nonroot/other.db\n      PROCPULSE_ALLOWED"),
     "use different databases"),
    ("missing nginx.conf", lambda r: os.remove(os.path.join(r, N)), "no nginx.conf mounted"),
    ("misspelt loadgen flag", _edit(C, '"--ingress", "http://split:8080"',
                                    '"--ingres", "http://split:8080"'),
     "procpulse-loadgen would not start: error: unexpected argument '--ingres'"),
    ("loadgen users not a number", _edit(C, "    profiles: [loadgen]\n",
                                         "    profiles: [loadgen]\n    environment:\n"
                                         "      PROCPULSE_LOADGEN_REPLAY_USERS: lots\n"),
     "is not a number of users"),
    ("loadgen always on", _edit(C, "    profiles: [loadgen]\n", ""), "not under a profile"),
]


def self_test(root):
    failures = 0
    with tempfile.TemporaryDirectory(prefix="procpulse-compose-selftest-") as tmp:
        for n, (desc, mutate, expect) in enumerate(MUTATIONS):
            copy = os.path.join(tmp, str(n))
            # The checks read k8s/docker only: copy just that.
            shutil.copytree(os.path.join(root, "k8s", "docker"), os.path.join(copy, "k8s", "docker"))
            mutate(copy)
            problems = check(copy)
            if any(expect in p for p in problems):
                print(f"check_compose self-test: ok   {desc}: caught ({expect})")
            else:
                failures += 1
                print(f"check_compose self-test: FAIL {desc}: want {expect!r}, got {problems or 'none'}")
    print(f"check_compose self-test: {len(MUTATIONS) - failures} of {len(MUTATIONS)} broken "
          "copies rejected")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        problems = check(argv[2])
        if problems:
            print("check_compose self-test: the unmodified file does not pass:\n  " + "\n  ".join(problems))
            return 1
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[1])
    for p in problems:
        print(f"check_compose: {p}")
    n = len(yaml.safe_load(open(os.path.join(argv[1], COMPOSE), encoding="utf-8"))["services"])
    print(f"check_compose: {COMPOSE}: {n} services: "
          f"{'FAILED with ' + str(len(problems)) + ' problem(s)' if problems else 'all checks pass'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Runs procpulse-config-check (userland/config-check): a deployment's arguments and
PROCPULSE_* environment parsed by the binary's own clap definition, instead of a
hand-copied table of flags. ci/test-k8s.sh builds it and sets PROCPULSE_CONFIG_CHECK."""

import functools
import os
import subprocess


def _bin():
    path = os.environ.get("PROCPULSE_CONFIG_CHECK")
    if not path or not os.access(path, os.X_OK):
        raise SystemExit("PROCPULSE_CONFIG_CHECK does not name the built procpulse-config-check "
                         "(ci/test-k8s.sh builds it: cargo build -p procpulse-config-check)")
    return path


def check(binary, args, env):
    """None if `binary` would parse `args` with `env` (name -> value), else the reason."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full.update({k: "" if v is None else str(v) for k, v in env.items()})
    r = subprocess.run([_bin(), binary, *[str(a) for a in args]], env=full,
                       capture_output=True, text=True, timeout=30, check=False)
    if r.returncode == 0:
        return None
    lines = [line.strip() for line in r.stderr.strip().splitlines()
             if line.strip() and not line.startswith(("Usage:", "For more"))]
    return " ".join(lines) or f"exit {r.returncode}"


@functools.lru_cache(maxsize=None)
def env_names(binary):
    """The PROCPULSE_* variables `binary` reads."""
    r = subprocess.run([_bin(), "--env", binary], capture_output=True, text=True,
                       timeout=30, check=True)
    return frozenset(r.stdout.split())

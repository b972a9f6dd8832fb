"""Checks the agent's systemd unit (k8s/vm/procpulse-agent.service) and its settings file
(k8s/vm/default/procpulse-agent, read by EnvironmentFile=, examples uncommented) with
procpulse-agent's own command-line parser (config_check.py): ExecStart's arguments and
every Environment= and example assignment must start the agent.

Usage: check_unit.py UNIT DEFAULTS     (PROCPULSE_CONFIG_CHECK: the built checker)
"""
import shlex
import sys

import config_check


def unit_env_and_args(text):
    env, args = {}, []
    for line in text.splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line[len("Environment="):]):
                k, _, v = assignment.partition("=")
                env[k] = v
        elif line.startswith("ExecStart="):
            args = shlex.split(line[len("ExecStart="):])[1:]
    return env, args


def defaults_env(text):
    """The settings file's assignments, the commented examples included (#NAME=value)."""
    env = {}
    for line in text.splitlines():
        line = line.strip().lstrip("#")
        k, sep, v = line.partition("=")
        if sep and k.startswith("PROCPULSE_") and " " not in k:
            env[k] = v
    return env


def main(unit_path, defaults_path):
    with open(unit_path, encoding="utf-8") as f:
        env, args = unit_env_and_args(f.read())
    with open(defaults_path, encoding="utf-8") as f:
        examples = defaults_env(f.read())
    problems = []
    why = config_check.check("procpulse-agent", args, env)
    if why:
        problems.append(f"{unit_path}: procpulse-agent would not start: {why}")
    # Each example on top of the unit's environment, as uncommenting it would do.
    for k, v in examples.items():
        why = config_check.check("procpulse-agent", args, {**env, k: v})
        if why:
            problems.append(f"{defaults_path}: {k}={v}: {why}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"check_unit: {unit_path} ({len(env)} variables) and {len(examples)} examples of "
          f"{defaults_path}: procpulse-agent parses them")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

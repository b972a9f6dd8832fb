#!/usr/bin/env python3
"""Splits rendered manifests (kustomize output, one multi-document YAML file) into one
file per object, under OUT_DIR/builtin/ for Kubernetes' own API groups and
OUT_DIR/<group>/<kind>_<version>/ for custom resources, so each group can be handed to
the validator that knows it.

Usage: split_rendered.py RENDERED.yaml OUT_DIR
"""
import os
import sys

import yaml

# API groups served by Kubernetes itself (validated by kubernetes-validate).
BUILTIN_GROUPS = {"", "apps", "autoscaling", "policy", "networking.k8s.io", "batch",
                  "rbac.authorization.k8s.io", "storage.k8s.io", "scheduling.k8s.io"}


def main(argv):
    rendered, out_dir = argv[1], argv[2]
    with open(rendered, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for i, doc in enumerate(docs):
        group, _, version = doc["apiVersion"].rpartition("/")
        kind = doc["kind"]
        sub = "builtin" if group in BUILTIN_GROUPS else os.path.join(
            group, f"{kind.lower()}_{version}")
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
        name = f"{i:03d}-{kind.lower()}-{doc['metadata']['name']}.yaml"
        with open(os.path.join(out_dir, sub, name), "w", encoding="utf-8") as o:
            yaml.safe_dump(doc, o, sort_keys=False)
    print(f"split_rendered: {len(docs)} objects from {rendered}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Extracts the openAPIV3Schema of one served version from CustomResourceDefinition files
into JSON Schema files named <kind>_<version>.json (lower-case kind), for check-jsonschema.

Usage: extract_crd_schema.py OUT_DIR VERSION CRD.yaml...

Strict mode, like kubectl's server-side field validation: every object schema that lists
`properties` and says nothing about `additionalProperties` gets `additionalProperties:
false`, so a misspelt field fails instead of being silently pruned by the API server.
"""
import json
import os
import sys

import yaml


def strict(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, version, paths = argv[1], argv[2], argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                kind = doc["spec"]["names"]["kind"]
                for ver in doc["spec"]["versions"]:
                    if ver["name"] != version:
                        continue
                    schema = strict(ver["schema"]["openAPIV3Schema"])
                    # metadata is validated by the API server, not by the CRD schema.
                    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
                    out = os.path.join(out_dir, f"{kind.lower()}_{version}.json")
                    with open(out, "w", encoding="utf-8") as o:
                        json.dump(schema, o)
                    written += 1
    if written == 0:
        print(f"extract_crd_schema: no {version} schema in {paths}", file=sys.stderr)
        return 1
    print(f"extract_crd_schema: wrote {written} schema(s) to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

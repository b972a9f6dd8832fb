#!/usr/bin/env bash
# Pins the GKE overlay's images by digest: resolves REGISTRY/<image>:TAG for ingest and
# broadcaster to their sha256 digests and rewrites the `images:` block of
# k8s/overlays/gke/kustomization.yaml (newName + digest, no tag), so that what runs is
# exactly what was pushed, whatever later happens to the tag.
#   k8s/pin-digests.sh REGION-docker.pkg.dev/PROJECT_ID/procpulse [TAG]
# TAG defaults to the overlay's version (0.1.0). The digest comes from `crane digest`
# when crane is installed, else from `gcloud artifacts docker images describe`.
# Env: PROCPULSE_DIGEST_CMD, a command given the image reference that prints its digest
# (the offline test uses it); PROCPULSE_OVERLAY, the overlay directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
overlay=${PROCPULSE_OVERLAY:-$here/overlays/gke}
registry=${1:?usage: pin-digests.sh REGISTRY [TAG]}
tag=${2:-0.1.0}
registry=${registry%/}
kfile=$overlay/kustomization.yaml
[ -f "$kfile" ] || { echo "pin-digests.sh: $kfile not found" >&2; exit 1; }
grep -q '^images:$' "$kfile" || { echo "pin-digests.sh: no images: block in $kfile" >&2; exit 1; }

digest_of() {
  if [ -n "${PROCPULSE_DIGEST_CMD:-}" ]; then
    $PROCPULSE_DIGEST_CMD "$1"
  elif command -v crane >/dev/null 2>&1; then
    crane digest "$1"
  elif command -v gcloud >/dev/null 2>&1; then
    gcloud artifacts docker images describe "$1" --format='value(image_summary.digest)'
  else
    echo "pin-digests.sh: neither crane nor gcloud is installed" >&2
    return 1
  fi
}

block="images:"
for image in ingest broadcaster; do
  ref="$registry/$image:$tag"
  digest=$(digest_of "$ref")
  if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "pin-digests.sh: $ref: not a sha256 digest: '$digest'" >&2
    exit 1
  fi
  echo "pin-digests.sh: $ref -> $digest" >&2
  block+=$'\n'"  - name: procpulse/$image"$'\n'"    newName: $registry/$image"$'\n'"    digest: $digest"
done
# The images: block is the file's last: keep everything before it, replace the rest.
tmp=$(mktemp "$kfile.XXXXXX")
sed '/^images:$/,$d' "$kfile" >"$tmp"
printf '%s\n' "$block" >>"$tmp"
mv "$tmp" "$kfile"
echo "pin-digests.sh: $kfile pinned (tag $tag)" >&2

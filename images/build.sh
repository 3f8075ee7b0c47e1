#!/usr/bin/env bash
# images/build.sh [OUT]: the multi-arch Lichen image as an OCI image layout (default
# target/image/oci, tag = the crate version), daemonless, with umoci: one image per platform,
# each FROM scratch with one layer holding /lichen (the static binary of cross/build.sh) and
#   Entrypoint ["/lichen"], Cmd ["daemonset"]
# (`lichen daemonset`: install the plugin and conflist onto the host, then run the agent), then an
# OCI image index naming each platform: linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6.
#
# Push it with e.g. `skopeo copy --all oci:target/image/oci:0.1.0 docker://REGISTRY/lichen:0.1.0`.
# Also one archive per platform, target/image/lichen-<amd64|arm64|armv7|armv6>.tar: an OCI archive
# whose one image is named localhost/lichen:<version>, the reference the manifests in conf/ use, for
# nodes without a registry: `k3s ctr images import`, k3s's /var/lib/rancher/k3s/agent/images/, or
# `microk8s ctr image import`. (Not `docker save`'s format: containerd 1.6 imports that without the
# ARM variant, and a Pi Zero's linux/arm/v6 then filters the image out.)
# images/check.sh verifies both. (images/Dockerfile does the same with docker buildx.)
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh

out=${1:-target/image/oci}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# Reproducible metadata: the time of the last commit unless SOURCE_DATE_EPOCH says otherwise.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
install_packages umoci jq skopeo

missing=()
for t in "${ALL_TARGETS[@]}"; do [ -x "target/$t/release/lichen" ] || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || cross/build.sh "${missing[@]}"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
umoci init --layout "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# put_blob FILE MEDIATYPE: stores FILE as a blob and prints its descriptor (JSON).
put_blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$out/blobs/sha256/$d"
  jq -cn --arg m "$2" --arg d "sha256:$d" --argjson s "$(stat -c %s "$1")" \
    '{mediaType: $m, digest: $d, size: $s}'
}
blob() { echo "$out/blobs/sha256/${1#sha256:}"; }

manifests=()
for t in "${ALL_TARGETS[@]}"; do
  read -r arch variant <<<"$(oci_platform "$t")"
  tag="$version-${arch}${variant}"
  umoci new --image "$out:$tag"
  umoci config --image "$out:$tag" --no-history --created "$created" --os linux --architecture "$arch" \
    --config.entrypoint /lichen --config.cmd daemonset \
    --config.label "org.opencontainers.image.version=$version" \
    --config.label "org.opencontainers.image.title=lichen" \
    --config.label "io.lichen.target=$t"
  # unpack + repack rather than `umoci insert`: umoci 0.4.7's insert writes a layer tar without
  # its padding and end blocks (tar and containerd's Go reader stop with "unexpected EOF").
  umoci unpack --image "$out:$tag" "$stage/$t" >/dev/null
  cp "target/$t/release/lichen" "$stage/$t/rootfs/lichen"
  touch -d "@$epoch" "$stage/$t/rootfs/lichen" "$stage/$t/rootfs"
  umoci repack --image "$out:$tag" --history.created "$created" \
    --history.created_by "images/build.sh: the static lichen binary for $t" "$stage/$t" >/dev/null

  # umoci has no --variant: add it to the config (ARM only), then re-point the manifest.
  desc=$(jq -c --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)' "$out/index.json")
  manifest=$(blob "$(jq -r .digest <<<"$desc")")
  if [ -n "$variant" ]; then
    jq -c --arg v "$variant" '.variant = $v' "$(blob "$(jq -r .config.digest "$manifest")")" >"$stage/config.json"
    config=$(put_blob "$stage/config.json" application/vnd.oci.image.config.v1+json)
    jq -c --argjson c "$config" '.config = $c' "$manifest" >"$stage/manifest.json"
    desc=$(put_blob "$stage/manifest.json" application/vnd.oci.image.manifest.v1+json)
  fi
  manifests+=("$(jq -c --arg a "$arch" --arg v "$variant" \
    '{mediaType, digest, size, platform: ({architecture: $a, os: "linux"} + (if $v == "" then {} else {variant: $v} end))}' <<<"$desc")")
done

# The image index, tagged with the version; the per-platform tags are dropped from index.json (their
# manifests stay, referenced by the index) and unreferenced blobs collected.
printf '%s\n' "${manifests[@]}" | jq -cs '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' >"$stage/index.json"
index=$(put_blob "$stage/index.json" application/vnd.oci.image.index.v1+json)
jq -c --argjson i "$index" --arg v "$version" \
  '.manifests = [$i + {annotations: {"org.opencontainers.image.ref.name": $v}}]' "$out/index.json" >"$stage/top.json"
cp "$stage/top.json" "$out/index.json"
umoci gc --layout "$out"

# The same binaries by platform, as the build context of images/Dockerfile (docker buildx).
for t in "${ALL_TARGETS[@]}"; do
  p="target/image/platforms/linux/$(oci_platform "$t" | tr ' ' '/')"
  mkdir -p "$p"
  cp "target/$t/release/lichen" "$p/lichen"
done
# One archive per platform: what k3s and microk8s import.
for t in "${ALL_TARGETS[@]}"; do
  read -r arch variant <<<"$(oci_platform "$t")"
  archive="$(dirname "$out")/lichen-$arch$variant.tar"
  rm -f "$archive"
  skopeo copy --quiet --override-os linux --override-arch "$arch" ${variant:+--override-variant "$variant"} \
    "oci:$out:$version" "oci-archive:$archive:localhost/lichen:$version"
  echo "archive: $archive"
done
echo "image: $out:$version ($(jq -r '.manifests[0].digest' "$out/index.json"))"

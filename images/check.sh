#!/usr/bin/env bash
# images/check.sh [LAYOUT]: checks the OCI layout images/build.sh made (default target/image/oci):
#  - index.json tags one image index (the crate version) and every blob matches its digest;
#  - the index holds exactly one manifest per platform: linux/amd64, linux/arm64, linux/arm/v7,
#    linux/arm/v6, and each image config says the same architecture/variant;
#  - each manifest has exactly one layer, holding exactly one file, /lichen, byte for byte the
#    binary of that platform's target (same SHA-256, and the ELF machine the platform needs);
#  - the entrypoint is /lichen with the argument `daemonset`;
#  - skopeo, asked for each platform, selects that platform's manifest;
#  - each per-platform archive (target/image/lichen-<platform>.tar) is imported by Debian's
#    containerd (`ctr images import`, what `k3s ctr` and `microk8s ctr` run) as the reference the
#    manifests in conf/ name, localhost/lichen:<version>, holding that platform's binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh

layout=${1:-target/image/oci}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
fail() {
  echo "FAIL image: $*" >&2
  exit 1
}
blob() { echo "$layout/blobs/sha256/${1#sha256:}"; }
install_packages jq skopeo containerd
[ -f "$layout/oci-layout" ] || fail "$layout is not an OCI layout"

for f in "$layout"/blobs/sha256/*; do
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "blob $(basename "$f") does not match its digest"
done

top=$(jq -c '.manifests' "$layout/index.json")
[ "$(jq length <<<"$top")" = 1 ] || fail "index.json should tag exactly one image index"
[ "$(jq -r '.[0].mediaType' <<<"$top")" = application/vnd.oci.image.index.v1+json ] || fail "the tagged image is not an index"
[ "$(jq -r '.[0].annotations["org.opencontainers.image.ref.name"]' <<<"$top")" = "$version" ] || fail "not tagged $version"
index=$(blob "$(jq -r '.[0].digest' <<<"$top")")

want=$(for t in "${ALL_TARGETS[@]}"; do oci_platform "$t" | tr ' ' '/'; done | sort)
have=$(jq -r '.manifests[].platform | "\(.os)/\(.architecture)" + (if .variant then "/\(.variant)" else "" end)' "$index" | sed 's|^linux/||' | sort)
[ "$have" = "$want" ] || fail "platforms are [$(echo $have)], want [$(echo $want)]"
[ "$(jq -r '[.manifests[].platform.os] | unique | join(",")' "$index")" = linux ] || fail "an OS is not linux"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "${ALL_TARGETS[@]}"; do
  read -r arch variant <<<"$(oci_platform "$t")"
  desc=$(jq -c --arg a "$arch" --arg v "$variant" \
    '[.manifests[] | select(.platform.architecture == $a and (.platform.variant // "") == $v)]' "$index")
  [ "$(jq length <<<"$desc")" = 1 ] || fail "not exactly one manifest for $arch $variant"
  manifest=$(blob "$(jq -r '.[0].digest' <<<"$desc")")
  config=$(blob "$(jq -r .config.digest "$manifest")")
  [ "$(jq -r '.architecture + "/" + (.variant // "")' "$config")" = "$arch/$variant" ] ||
    fail "$t: the config says $(jq -r '.architecture + "/" + (.variant // "")' "$config")"
  [ "$(jq -c '.config.Entrypoint' "$config")" = '["/lichen"]' ] || fail "$t: entrypoint is $(jq -c .config.Entrypoint "$config")"
  [ "$(jq -c '.config.Cmd' "$config")" = '["daemonset"]' ] || fail "$t: cmd is $(jq -c .config.Cmd "$config")"
  [ "$(jq '.layers | length' "$manifest")" = 1 ] || fail "$t: not exactly one layer"
  layer=$(blob "$(jq -r '.layers[0].digest' "$manifest")")

  # Exactly one file (the root directory entry aside): lichen.
  entries=$(tar -tzf "$layer" | grep -vx '\./\?' || true)
  [ "$entries" = lichen ] || [ "$entries" = ./lichen ] || fail "$t: the layer holds [$(echo $entries)], want [lichen]"
  mkdir -p "$tmp/$t"
  tar -xzf "$layer" -C "$tmp/$t"
  got=$(sha256sum <"$tmp/$t/lichen" | cut -d' ' -f1)
  exp=$(sha256sum <"target/$t/release/lichen" | cut -d' ' -f1)
  [ "$got" = "$exp" ] || fail "$t: the layer's lichen is not target/$t/release/lichen"
  machine=$(readelf -h "$tmp/$t/lichen" | sed -n 's/^ *Machine: *//p')
  [ "$machine" = "$(elf_machine "$t")" ] || fail "$t: the layer's binary is for $machine"
  [ -x "$tmp/$t/lichen" ] || fail "$t: /lichen is not executable"
  # An independent reader picks the same manifest for the platform.
  picked=$(skopeo inspect --override-os linux --override-arch "$arch" ${variant:+--override-variant "$variant"} \
    "oci:$layout:$version" | jq -r '.Layers[0]')
  [ "$picked" = "$(jq -r '.layers[0].digest' "$manifest")" ] || fail "$t: skopeo picks another image for $arch $variant"
  printf 'image linux/%-8s %s  %s\n' "$arch${variant:+/$variant}" "$(jq -r '.[0].digest' <<<"$desc" | cut -c1-19)" "$t"
done
# The per-platform archives, imported by a throwaway containerd (its own root, state and socket,
# in new mount and network namespaces) as the nodes' `ctr images import` does.
ref="localhost/lichen:$version"
for f in conf/lichen-*.yaml; do
  grep -q "image: $ref\$" "$f" || fail "$f does not use the image the archives are tagged with, $ref"
done
ctrd="$tmp/containerd"
mkdir -p "$ctrd"
cat >"$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$ctrd/sock"
EOF
unshare -m -n containerd --config "$ctrd/config.toml" >"$ctrd/log" 2>&1 &
ctrd_pid=$!
trap 'kill $ctrd_pid 2>/dev/null; wait $ctrd_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -S "$ctrd/sock" ] && break; sleep 0.1; done
ctr_() { ctr --address "$ctrd/sock" --namespace k8s.io "$@"; }
ctr_ version >/dev/null || fail "containerd did not start: $(cat "$ctrd/log")"
for t in "${ALL_TARGETS[@]}"; do
  read -r arch variant <<<"$(oci_platform "$t")"
  platform="linux/$arch${variant:+/$variant}"
  archive="$(dirname "$layout")/lichen-$arch$variant.tar"
  [ -f "$archive" ] || fail "$archive is missing (images/build.sh makes it)"
  ctr_ images rm "$ref" >/dev/null 2>&1 || true
  ctr_ images import --platform "$platform" "$archive" >/dev/null || fail "containerd cannot import $archive"
  ctr_ images ls -q | grep -qx "$ref" || fail "$archive imports as [$(ctr_ images ls -q | tr '\n' ' ')], not $ref"
  # what the node would run: the image's one layer, read back from containerd's store
  rm -rf "$tmp/back" && mkdir -p "$tmp/back"
  ctr_ images export --platform "$platform" "$tmp/back.tar" "$ref" && tar -xf "$tmp/back.tar" -C "$tmp/back"
  desc=$(jq -c '.manifests[0]' "$tmp/back/index.json")
  [ "$(jq -r .mediaType <<<"$desc")" != application/vnd.oci.image.index.v1+json ] ||
    fail "$archive: imported as an index, want one platform's image"
  manifest=$(jq -r .digest <<<"$desc")
  layer=$(jq -r '.layers[0].digest' "$tmp/back/blobs/sha256/${manifest#sha256:}")
  got=$(tar -xOf "$tmp/back/blobs/sha256/${layer#sha256:}" lichen 2>/dev/null | sha256sum | cut -d' ' -f1)
  [ "$got" = "$(sha256sum <"target/$t/release/lichen" | cut -d' ' -f1)" ] ||
    fail "$archive: the imported image's /lichen is not target/$t/release/lichen"
  printf 'archive %-18s imports as %s (%s)\n' "$(basename "$archive")" "$ref" "$platform"
done
echo "image OK: $layout:$version"

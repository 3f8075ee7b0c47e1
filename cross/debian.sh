# shellcheck shell=bash
# Fetches Debian packages of a foreign architecture, and source packages, with a PRIVATE apt
# configuration under $CROSS_CACHE/apt: the machine's dpkg architectures and sources lists are
# never touched (no `dpkg --add-architecture`). Sourced by cross/sysroot.sh.

# Mirror and suite: the machine's own Debian release by default.
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SUITE="${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
DEBIAN_KEYRING="${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

# Writes the private configuration for architecture $1 and runs `apt-get update` once (the lists
# are kept; delete $CROSS_CACHE/apt to refresh). Prints the APT_CONFIG path.
private_apt() {
  local arch=$1 root="$CROSS_CACHE/apt/$1"
  if [ ! -f "$root/updated" ]; then
    mkdir -p "$root"/etc/apt/{apt.conf.d,preferences.d,sources.list.d} \
      "$root"/var/lib/apt/lists/partial "$root"/var/cache/apt/archives/partial "$root"/var/lib/dpkg
    touch "$root/var/lib/dpkg/status"
    cat >"$root/etc/apt/sources.list" <<EOF
deb [arch=$arch signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR $DEBIAN_SUITE main
deb-src [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR $DEBIAN_SUITE main
EOF
    cat >"$root/apt.conf" <<EOF
Dir "$root/";
Dir::State::status "$root/var/lib/dpkg/status";
Dir::Etc::main "$root/apt.conf";
Dir::Etc::Parts "$root/etc/apt/apt.conf.d";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
    APT_CONFIG="$root/apt.conf" apt-get -qq update >&2 || die "apt-get update (private, $arch) failed"
    touch "$root/updated"
  fi
  echo "$root/apt.conf"
}

# fetch_deb ARCH PACKAGE: downloads the package's .deb into $CROSS_CACHE/debian (once) and
# prints its path.
fetch_deb() {
  local arch=$1 pkg=$2 dir="$CROSS_CACHE/debian" conf deb
  mkdir -p "$dir"
  deb=$(ls "$dir/${pkg}"_*_"$arch".deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    conf=$(private_apt "$arch")
    (cd "$dir" && APT_CONFIG="$conf" apt-get -qq download "$pkg" >&2) || die "cannot download $pkg:$arch"
    deb=$(ls "$dir/${pkg}"_*_"$arch".deb | head -n1)
  fi
  echo "$deb"
}

# fetch_source PACKAGE: downloads and unpacks (with Debian's patches) the source package into
# $CROSS_CACHE/debian/src (once) and prints the unpacked directory.
fetch_source() {
  local pkg=$1 dir="$CROSS_CACHE/debian/src" conf dsc
  mkdir -p "$dir"
  if [ ! -f "$dir/$pkg.unpacked" ]; then
    conf=$(private_apt armhf)
    (cd "$dir" && APT_CONFIG="$conf" apt-get -qq source --download-only "$pkg" >&2) ||
      die "cannot download the source of $pkg"
    dsc=$(ls "$dir/${pkg}"_*.dsc | head -n1)
    rm -rf "${dir:?}/$pkg"
    # apt-get already checked every file against the signed Sources index; dpkg-source's own
    # check would need the uploader's key (debian-keyring).
    dpkg-source --no-check -x "$dsc" "$dir/$pkg" >&2 || die "cannot unpack $dsc"
    touch "$dir/$pkg.unpacked"
  fi
  echo "$dir/$pkg"
}

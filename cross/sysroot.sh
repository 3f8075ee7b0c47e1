#!/usr/bin/env bash
# cross/sysroot.sh TARGET: makes $CROSS_CACHE/sysroot/TARGET/{lib,include} for a target (every
# target builds std from source): what rust-lld needs to link a static or static-pie musl binary
# without a C toolchain.
#   lib/crt1.o rcrt1.o crti.o crtn.o  musl (x86_64, aarch64, armv7: Debian's musl-dev of amd64,
#   lib/libc.a                        arm64, armhf; ARMv6: musl built from Debian's source for the
#                                     ARM1176, since Debian's armhf musl is ARMv7/Thumb-2 code that
#                                     dies with SIGILL there). rcrt1.o starts a static-pie. All
#                                     position-independent (Debian builds PIE; the source build
#                                     and libunwind get -fPIC), as a static-pie link requires.
#   lib/crtbegin{,S}.o crtend{,S}.o   empty (rustc's self-contained musl link names them; musl
#                                     needs nothing from them)
#   lib/libunwind.a                   LLVM libunwind from the nightly's rust-src
#   include/                          musl's headers (for libunwind, and for C crates such as ring)
# Idempotent: a stamp records what it was built from; a warm run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh
. cross/debian.sh

t=${1:?usage: cross/sysroot.sh TARGET}
known_target "$t" || die "unknown target $t"
root=$(sysroot_dir "$t")
rust_src="$(rustc +"$LICHEN_NIGHTLY" --print sysroot)/lib/rustlib/src/rust"
CC_T=$(target_cc "$t")
stamp="musl=$(apt-cache show --no-all-versions musl-dev 2>/dev/null | sed -n 's/^Version: //p' | head -n1) \
nightly=$(rustc +"$LICHEN_NIGHTLY" -V) cc=$CC_T layout=static-pie"
if [ -f "$root/stamp" ] && [ "$(cat "$root/stamp")" = "$stamp" ]; then
  exit 0
fi
{ command -v "$CC_T" >/dev/null && command -v llvm-ar >/dev/null; } || die "needs $CC_T and llvm-ar (apt-get install clang llvm)"
[ -d "$rust_src/src/llvm-project/libunwind" ] || die "no rust-src in $LICHEN_NIGHTLY (rustup component add rust-src --toolchain $LICHEN_NIGHTLY)"
rm -rf "$root"
mkdir -p "$root/lib" "$root/include"
arch_flags="$(c_flags "$t" "$CC_T") -fPIC"

# musl_from_deb DEBIAN-ARCH MULTIARCH: Debian's musl-dev of that architecture.
musl_from_deb() {
  local deb tmp
  deb=$(fetch_deb "$1" musl-dev)
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  cp "$tmp/usr/lib/$2"/{crt1.o,rcrt1.o,crti.o,crtn.o,libc.a} "$root/lib/"
  cp -r "$tmp/usr/include/$2/." "$root/include/"
  rm -rf "$tmp"
}

musl_from_source() {
  local src build
  src=$(fetch_source musl)
  build="$CROSS_CACHE/build/musl-$t"
  rm -rf "$build"
  mkdir -p "$build"
  (
    cd "$build"
    # shellcheck disable=SC2086 # the flags are words
    CC="$CC_T" CFLAGS="$arch_flags" AR=llvm-ar RANLIB=llvm-ranlib \
      "$src/configure" --target=arm-linux-musleabihf --prefix="$root" --disable-shared --disable-wrapper >configure.log 2>&1 ||
      { tail -n 20 configure.log >&2; exit 1; }
    make -j"$(nproc)" lib/libc.a lib/crt1.o lib/rcrt1.o lib/crti.o lib/crtn.o >make.log 2>&1 ||
      { grep -m5 -i error make.log >&2; exit 1; }
    make install-headers >/dev/null
  ) || die "building musl for $t failed (logs in $build)"
  cp "$build"/lib/{crt1.o,rcrt1.o,crti.o,crtn.o,libc.a} "$root/lib/"
}

empty_crt_objects() {
  local o
  for o in crtbegin crtend crtbeginS crtendS; do
    # shellcheck disable=SC2086
    echo "" | "$CC_T" $arch_flags -x c -c -o "$root/lib/$o.o" -
  done
}

libunwind() {
  local u="$rust_src/src/llvm-project/libunwind" out="$CROSS_CACHE/build/unwind-$t" f o objs=()
  local common cflags_var
  export_c_toolchain "$t"
  cflags_var=$(target_var "$t" CFLAGS)
  # The flags rustc's bootstrap uses for its in-tree libunwind.
  common="${!cflags_var} -fPIC -I$u/include -funwind-tables -fstrict-aliasing -fvisibility=hidden \
-D_LIBUNWIND_DISABLE_VISIBILITY_ANNOTATIONS -D_LIBUNWIND_IS_NATIVE_ONLY -DNDEBUG"
  rm -rf "$out"
  mkdir -p "$out"
  # shellcheck disable=SC2086 # $common holds several flags
  for f in UnwindLevel1.c UnwindLevel1-gcc-ext.c Unwind-sjlj.c Unwind-EHABI.cpp libunwind.cpp \
    UnwindRegistersSave.S UnwindRegistersRestore.S; do
    o="$out/${f%.*}.o"
    case "$f" in
      *.c) "$CC_T" $common -std=c99 -c "$u/src/$f" -o "$o" ;;
      *.cpp) "$CC_T" $common -std=c++17 -nostdinc++ -fno-exceptions -fno-rtti -x c++ -c "$u/src/$f" -o "$o" ;;
      *.S) "$CC_T" $common -c "$u/src/$f" -o "$o" ;;
    esac
    objs+=("$o")
  done
  llvm-ar rcs "$root/lib/libunwind.a" "${objs[@]}"
}

case "$t" in
  x86_64-*) musl_from_deb amd64 x86_64-linux-musl ;;
  aarch64-*) musl_from_deb arm64 aarch64-linux-musl ;;
  armv7-*) musl_from_deb armhf arm-linux-musleabihf ;;
  arm-*) musl_from_source ;;
esac
empty_crt_objects
libunwind
echo "$stamp" >"$root/stamp"
echo "sysroot for $t: $root" >&2

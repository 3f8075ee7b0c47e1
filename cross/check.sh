#!/usr/bin/env bash
# cross/check.sh TARGET [BINARY]: checks a release binary is what the boards need:
#  - a static-pie on every target (`file`: "static-pie linked"; ASLR for a root daemon that parses
#    untrusted input) without text relocations (no code page made writable to relocate it);
#  - for the target's machine (ELF e_machine);
#  - 32-bit ARM: the ELF build attributes name the right architecture — ARMv6 must say v6 with no
#    Thumb-2 and no NEON (one ARMv7 object linked in raises Tag_CPU_arch to v7), armv7 says v7;
#  - it runs (`lichen version`, which names the target) on the host or under qemu-user with the
#    board's CPU model: qemu's arm1176 raises SIGILL on any ARMv7-only instruction executed;
#  - at most 3 MiB: the Kubernetes issue's budget. The plugin, IPAM and agent fit in 2 MiB; the
#    API client's TLS (rustls + ring) costs about 1.2 MB on x86_64 (see README, ARM boards).
# Prints one line: target, size, and `file`'s verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh

t=${1:?usage: cross/check.sh TARGET [BINARY]}
bin=${2:-target/$t/release/lichen}
max=$((3 * 1024 * 1024))
fail() {
  echo "FAIL $t: $*" >&2
  exit 1
}
[ -x "$bin" ] || fail "$bin missing"

desc=$(file -b "$bin")
case "$desc" in
  *"static-pie linked"*) ;;
  *) fail "not a static-pie: $desc (build it with cross/build.sh, which uses the static-pie spec)" ;;
esac
readelf -d "$bin" | grep -q TEXTREL && fail "text relocations in a static-pie (non-PIC code linked in)"
machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
[ "$machine" = "$(elf_machine "$t")" ] || fail "ELF machine is '$machine', want '$(elf_machine "$t")'"

attr() { readelf -A "$bin" | sed -n "s/^ *$1: *//p" | head -n1; }
case "$t" in
  arm-*)
    # The ARM1176 is ARMv6KZ: v6, v6K and v6KZ code runs on it; v6T2 (Thumb-2) and v7 do not.
    case "$(attr Tag_CPU_arch)" in
      v6 | v6K | v6KZ) ;;
      *) fail "Tag_CPU_arch is '$(attr Tag_CPU_arch)', want v6 (ARM1176)" ;;
    esac
    case "$(attr Tag_THUMB_ISA_use)" in *Thumb-2*) fail "Thumb-2 code in an ARMv6 binary" ;; esac
    [ -z "$(attr Tag_Advanced_SIMD_arch)" ] || fail "NEON in an ARMv6 binary"
    [ "$(attr Tag_FP_arch)" = "VFPv2" ] || fail "Tag_FP_arch is '$(attr Tag_FP_arch)', want VFPv2"
    ;;
  armv7-*)
    [ "$(attr Tag_CPU_arch)" = "v7" ] || fail "Tag_CPU_arch is '$(attr Tag_CPU_arch)', want v7"
    [ -z "$(attr Tag_Advanced_SIMD_arch)" ] || fail "NEON in an armv7 binary (the target has none)"
    ;;
esac

read -ra runner <<<"$(qemu_runner "$t")"
out=$("${runner[@]}" "$bin" version 2>&1) || fail "does not run (${runner[*]:-native}): $out"
case "$out" in
  *" $t "*) ;;
  *) fail "'lichen version' says '$out', not $t" ;;
esac
# A plugin verb, exercising the CNI code paths under the board's CPU model as well.
out=$(echo '{}' | CNI_COMMAND=VERSION "${runner[@]}" "$bin" 2>&1) || fail "CNI VERSION failed: $out"
case "$out" in *supportedVersions*) ;; *) fail "CNI VERSION answered '$out'" ;; esac

size=$(stat -c %s "$bin")
[ "$size" -le "$max" ] || fail "$size bytes, over the 3 MiB budget"
printf '%-32s %8d bytes (%4d KiB)  %s, %s\n' "$t" "$size" "$((size / 1024))" "$machine" \
  "$(grep -o 'stat[a-z -]*linked' <<<"$desc")"

#!/usr/bin/env bash
# rootfs.sh DIR PROGRAM... — a root file system for a FROM scratch image:
# the programs, the shared libraries the dynamic loader resolves for them on
# this (Debian) machine, and the few files of /etc they read. Nothing else:
# no shell unless one is named, no package manager. docs/deploy.md says why
# the images are built from the build machine's installed Debian packages.
#
# A PROGRAM is a path on this machine, copied to the same path in DIR, or
# SRC=DEST to copy SRC to DEST. Libraries are copied, links followed, to
# /usr/lib/x86_64-linux-gnu (merged /usr, as Debian lays it out), so
# Debian's alternatives (BLAS, LAPACK) resolve without /etc/alternatives.
set -euo pipefail
dir=$1; shift
rm -rf "$dir"
mkdir -p "$dir"/usr/bin "$dir"/usr/lib/x86_64-linux-gnu "$dir"/usr/lib64 "$dir"/etc "$dir"/tmp
ln -s usr/bin "$dir"/bin
ln -s usr/lib "$dir"/lib
ln -s usr/lib64 "$dir"/lib64
chmod 1777 "$dir"/tmp

libs=() programs=()
for p in "$@"; do
  src=${p%%=*} dest=${p#*=}
  test -x "$src" || { echo "rootfs: $src is not an executable file" >&2; exit 1; }
  mkdir -p "$dir$(dirname "$dest")"
  cp -L "$src" "$dir$dest"
  programs+=("$src")
  # ldd prints "name => /path (addr)" and the loader's own "/path (addr)".
  # A static binary has none ("not a dynamic executable").
  while read -r lib; do libs+=("$lib"); done < <(ldd "$src" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// {print $1}')
  if ldd "$src" 2>/dev/null | grep -q 'not found'; then
    echo "rootfs: $src needs a library this machine lacks:" >&2; ldd "$src" | grep 'not found' >&2; exit 1
  fi
done
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
  cp -L "$lib" "$dir"/usr/lib/x86_64-linux-gnu/"$(basename "$lib")"
done
# The loader is found through its ELF interpreter path, /lib64/ld-linux-x86-64.so.2.
if test -e "$dir"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; then
  ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$dir"/usr/lib64/ld-linux-x86-64.so.2
fi

# Users: root (the runtime expects it), iscd (10001), which runs everything,
# and nobody, whom a root worker's solvers run as (it never is one here).
cat > "$dir"/etc/passwd <<'PASSWD'
root:x:0:0:root:/nonexistent:/usr/sbin/nologin
iscd:x:10001:10001:iscd:/var/lib/iscd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat > "$dir"/etc/group <<'GROUP'
root:x:0:
iscd:x:10001:
nogroup:x:65534:
GROUP
printf 'hosts: files dns\n' > "$dir"/etc/nsswitch.conf
# The object store, PostgreSQL and the marketplace are reached over TLS.
if test -r /etc/ssl/certs/ca-certificates.crt; then
  mkdir -p "$dir"/etc/ssl/certs
  cp /etc/ssl/certs/ca-certificates.crt "$dir"/etc/ssl/certs/
fi

# What the image holds, for its users' audits: the Debian package (and its
# version) of each file taken from this machine ("file PATH" for one no
# package owns), and the Go toolchain and modules its Go programs were
# built with (go version -m).
contents="$dir"/usr/share/doc/image-contents
mkdir -p "$(dirname "$contents")"
package_of() { # a file's Debian package, by its path, its target, or either without /usr (merged /usr)
  local f
  for f in "$1" "$(readlink -f "$1")"; do
    dpkg -S "$f" 2>/dev/null && return
    dpkg -S "${f#/usr}" 2>/dev/null && return
  done
  return 0
}
{
  echo "# what this image holds: \"deb PACKAGE VERSION\" for the files taken from the build machine's Debian packages, \"go MODULE VERSION\" for the Go programs'"
  for f in "${programs[@]}" "${libs[@]}"; do
    pkg=$(package_of "$f" | awk -F: 'NR == 1 {print $1}')
    if test -n "$pkg"; then dpkg-query -W -f='deb ${Package} ${Version}\n' "$pkg"; elif ! go version "$f" >/dev/null 2>&1; then echo "file $f"; fi
  done | sort -u
  # ca-certificates.crt is made from the package's certificates, not shipped in it.
  if test -e "$dir"/etc/ssl/certs/ca-certificates.crt; then dpkg-query -W -f='deb ${Package} ${Version}\n' ca-certificates; fi
  for f in "${programs[@]}"; do
    { go version -m "$f" 2>/dev/null || true; } | awk 'NR == 1 {print "go toolchain", $2} $1 == "mod" || $1 == "dep" {print "go", $2, $3}'
  done | sort -u
} > "$contents"

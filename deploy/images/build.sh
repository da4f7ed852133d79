#!/usr/bin/env bash
# build.sh BUILD VERSION COMMIT — `make images`: the root file systems
# (rootfs.sh) in BUILD/images/NAME and the images localhost/NAME:VERSION
# built FROM scratch with podman (or buildah). No registry is reached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 version=$2 commit=$3
iscd=$build/bin/iscd
if command -v podman >/dev/null; then builder=(podman build); elif command -v buildah >/dev/null; then builder=(buildah bud); else
  echo "images: podman or buildah is needed (apt-get install podman runc; docs/deploy.md)" >&2; exit 1; fi
missing=()
for p in /usr/bin/ccx /usr/bin/bwrap /usr/bin/prlimit /usr/bin/dash /usr/bin/true; do test -x "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "images: the worker image takes ${missing[*]} from this machine: apt-get install calculix-ccx bubblewrap util-linux dash" >&2; exit 1; fi

"$here"/rootfs.sh "$build"/images/iscd/rootfs "$iscd"=/usr/bin/iscd
"$here"/rootfs.sh "$build"/images/iscd-worker/rootfs "$iscd"=/usr/bin/iscd \
  /usr/bin/ccx /usr/bin/bwrap /usr/bin/prlimit /usr/bin/dash=/usr/bin/sh /usr/bin/true
# The trials' PostgreSQL and object store (docs/deploy.md).
pg=/usr/lib/postgresql/15
test -x $pg/bin/postgres || { echo "images: the trial PostgreSQL image takes $pg from this machine: apt-get install postgresql-15" >&2; exit 1; }
versitygw=$build/tools/versitygw
test -x "$versitygw" || { echo "images: $versitygw is missing: GOBIN=$build/tools go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }
pgroot=$build/images/iscd-postgresql/rootfs
"$here"/rootfs.sh "$pgroot" $pg/bin/initdb $pg/bin/postgres /usr/bin/dash=/usr/bin/sh /usr/bin/rm \
  "$here"/postgresql-start.sh=/usr/bin/postgresql-start
mkdir -p "$pgroot"/usr/share/postgresql "$pgroot"/usr/share/zoneinfo
cp -a /usr/share/postgresql/15 "$pgroot"/usr/share/postgresql/
cp -a /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc "$pgroot"/usr/share/zoneinfo/
# The libraries initdb loads into every cluster (PL/pgSQL, the text search dictionaries).
mkdir -p "$pgroot"/usr/lib/postgresql/15/lib
cp -a $pg/lib/plpgsql.so $pg/lib/dict_snowball.so "$pgroot"/usr/lib/postgresql/15/lib/
"$here"/rootfs.sh "$build"/images/iscd-versitygw/rootfs "$versitygw"=/usr/bin/versitygw /usr/bin/dash=/usr/bin/sh /usr/bin/mkdir

layers=()
test "${builder[0]}" = podman && layers=(--layers=false)
for name in iscd iscd-worker iscd-postgresql iscd-versitygw; do
  "${builder[@]}" "${layers[@]}" --quiet --build-arg VERSION="$version" --build-arg COMMIT="$commit" \
    -f "$here/${name#iscd-}.Containerfile" -t "localhost/$name:$version" "$build/images/$name"
done

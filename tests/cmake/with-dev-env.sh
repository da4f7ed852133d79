#!/bin/sh
# with-dev-env.sh DATA PROGRAM ARGS...: run PROGRAM with iscd's DATA/dev.env
# in its environment.
set -eu
data=$1
shift
set -a
. "$data/dev.env"
set +a
export ISCSDK_LOG=off ISCSDK_CREDENTIALS="$data/no-credentials" XDG_CACHE_HOME="$data/cache"
exec "$@"

#!/usr/bin/env bash
# make demo: a dev iscd on a free loopback port, the C example connected to
# it, and the service doing what it can do so far, printed as it happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
data=$(mktemp -d)
iscd_pid=
cleanup() {
  [ -n "$iscd_pid" ] && kill "$iscd_pid" 2>/dev/null && wait "$iscd_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for DESCRIPTION COMMAND...: retry a check for up to 10 seconds.
wait_for() {
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: timed out waiting for $what" >&2; exit 1
}

start_iscd() {
  "$bin/iscd" serve --dev --data "$data" --listen "${1:-127.0.0.1:0}" --heartbeat 1s 2>>"$data/iscd.log" &
  iscd_pid=$!
  wait_for "iscd to listen" grep -q '"msg":"listening"' "$data/iscd.log"
}

say "starting iscd serve --dev (data in $data)"
start_iscd
set -a; . "$data/dev.env"; set +a
export ISCSDK_WORKSPACE="$data/workspace" # the programs' cache and logs: thrown away at the end
addr=${ISCD_ADMIN_URL#http://}
echo "iscd listens on $addr; dev.env has the endpoint, a demo token and product '$ISCSDK_PRODUCT'"

say "the C example (examples/c/console.c --sign-in --device) signs its user in with the device grant (--sign-in alone: the browser): it has no API token, shows a page and a code, and waits"
# The program's output goes to the terminal and to a file the script reads.
: > "$data/console.out"
env -u ISCSDK_TOKEN "$bin/console_c" --sign-in --device --seconds 11 > >(tee -a "$data/console.out") &
app_pid=$!
wait_for "the sign-in prompt" grep -q '"userCode"' "$data/console.out"
code=$(grep -o '"userCode":"[^"]*"' "$data/console.out" | head -1 | cut -d'"' -f4)
page=$(grep -o '"verificationUri":"[^"]*"' "$data/console.out" | head -1 | cut -d'"' -f4)
say "the script acts as the user in a browser: it enters $code on $page (a dev server takes the demo user without a token), reads what it would sign in, and says yes"
# First step: the page names the product, the user and the organisation, with a one-time nonce.
step1=$(curl -fsS --data-urlencode "user_code=$code" -d action=approve -d api_token= "$page")
printf '%s\n' "$step1" | grep -o '<p role="status" id="message">[^<]*' | sed 's/.*>/page: /'
nonce=$(printf '%s\n' "$step1" | grep -o 'name="nonce" value="[^"]*"' | cut -d'"' -f4)
curl -fsS --data-urlencode "user_code=$code" -d action=approve --data-urlencode "nonce=$nonce" "$page" |
  grep -o '<p role="status" id="message">[^<]*' | sed 's/.*>/page: /'
wait_for "the program's SignedIn event" grep -q 'SignedIn' "$data/console.out"
say "signed in: for 11 seconds the program asks for a licence, checks it offline and reports the verdict"
session_id() { "$bin/iscctl" session list --json | grep -o '"id": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
has_session() { test -n "$(session_id)"; }
wait_for "the example's session" has_session
sid=$(session_id)

sleep 1.5
say "iscctl notice send: the service pushes an event to the program"
"$bin/iscctl" notice send --product "$ISCSDK_PRODUCT" --title "Maintenance" --text "iscd restarts at 18:00"

sleep 1
say "iscctl license freeze: the program is told at once; unfreeze gives it a fresh licence"
"$bin/iscctl" license freeze demo-floating
sleep 1
"$bin/iscctl" license unfreeze demo-floating

sleep 1
say "iscctl session disconnect: the connection drops; the SDK reconnects and resumes"
"$bin/iscctl" session disconnect "$sid"
"$bin/iscctl" notice send --session "$sid" --title "While you were away" --text "delivered after the resume"

sleep 2
say "iscd stops (SIGTERM): the program is told why, then waits for it to come back"
kill -TERM "$iscd_pid"; wait "$iscd_pid" 2>/dev/null || true
sleep 1
say "iscd starts again on the same data and port: the session resumes"
start_iscd "$addr"

wait "$app_pid"
say "the example shut out; its seat is free again, and the licence's audit log has the story"
"$bin/iscctl" license show demo-floating
"$bin/iscctl" license audit demo-floating --limit 8
say "cloud files (examples/c/cloud_files.c): a CalculiX model and an assembly, saved, changed, saved again, opened"
"$bin/cloud_files" examples/data/beam.inp examples/data/Bracket
"$bin/iscctl" ls /demo
"$bin/iscctl" history /demo/beam.inp
if ! command -v ccx >/dev/null; then
  say "compute skipped: ccx (CalculiX) is not installed — apt-get install calculix-ccx"
elif ! command -v bwrap >/dev/null; then
  say "compute skipped: the dev worker runs solvers in a bubblewrap sandbox and refuses to run without it — apt-get install bubblewrap"
else
  say "compute (examples/c/cloud_solve.c): GetSolution sends beam.inp to the dev worker, which runs CalculiX in a sandbox that sees only the job; progress and the solver's output stream back, the results land in a local folder"
  "$bin/cloud_solve" examples/data/beam.inp
fi

# ---- upgrades (docs/upgrades.md) ----
say "upgrades (examples/c/upgrade.c): a release is published, the program at 2024.1.3 is offered it, accepts, and it installs after the program exits"
pkg="$data/setup-2024.2.0.sh"
printf '#!/bin/sh\necho "demo installer: 2024.2.0 installed silently ($*)" > "%s/installed.txt"\n' "$data" > "$pkg"
"$bin/iscctl" release publish "$pkg" --key "$ISCD_RELEASE_KEY_FILE" --product "$ISCSDK_PRODUCT" --version 2024.2.0 --notes "faster meshing" --install-command "{package} --silent"
"$bin/upgrade" 2024.1.3
wait_for "the installer, once the program had exited" test -s "$ISCSDK_WORKSPACE/upgrades/$ISCSDK_PRODUCT/2024.2.0/exit-code"
cat "$data/installed.txt"
say "the program starts again, upgraded: the library reports how the upgrade went; nothing newer is offered"
"$bin/upgrade" 2024.2.0

say "the web console (docs/console.md): $ISCD_CONSOLE_URL"
echo "an operator signs in with the admin token ISCD_ADMIN_TOKEN of $data/dev.env (the demo's, gone when it stops);"
echo "'Sign in with your work account' signs in as the demo organisation's admin (a dev server asks for no token)"
if [ -t 0 ]; then
  # A newcomer may look around: the service stays up until Enter. CI's
  # stdin is no terminal, and the demo goes on.
  read -r -p "iscd stays up for you to look: press Enter to stop it. " _ || true
fi

say "stopping iscd"

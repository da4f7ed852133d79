#!/bin/bash
# iscd.sh start|stop ISCD DATA: the ctest fixture that runs `iscd serve --dev`
# for the tests. start returns once iscd listens and DATA/dev.env exists.
set -eu
cmd=$1 iscd=$2 data=$3
case $cmd in
start)
	rm -rf "$data"
	mkdir -p "$data"
	"$iscd" serve --dev --data "$data" --listen 127.0.0.1:0 --heartbeat 200ms \
		</dev/null >/dev/null 2>"$data/iscd.log" &
	echo $! >"$data/iscd.pid"
	# Wait for the "listening" line without polling: tail follows the log
	# and ends with iscd. Nothing started here may hold ctest's stdout or
	# stderr open, or ctest would wait for it.
	if ! timeout 30 grep -q -m1 '"msg":"listening"' <(tail -n +1 -f --pid="$(cat "$data/iscd.pid")" "$data/iscd.log" 2>/dev/null); then
		cat "$data/iscd.log" >&2
		exit 1
	fi
	test -s "$data/dev.env"
	;;
stop)
	pid=$(cat "$data/iscd.pid")
	kill -TERM "$pid"
	# Wait until it has exited (or is a zombie nobody reaps), at most 30 s.
	for _ in $(seq 300); do
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
		if [ -z "$state" ] || [ "$state" = Z ]; then
			exit 0
		fi
		sleep 0.1
	done
	echo "iscd $pid did not stop" >&2
	exit 1
	;;
esac

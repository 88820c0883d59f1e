#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Instruction counts of derpd's workers per relayed packet, under callgrind
# (repeatable on a noisy machine, unlike timings).
#
#   bench/profile.sh [same|cross] [packet size] [packets per pair] [pairs] [tls|plain]
#   WORKERS=N bench/profile.sh ...     (default 2)
#
# Runs build/derpd, and the children it executes, under valgrind without
# their sandbox (valgrind cannot run seccomp(2); see bench/noseccomp.c),
# sends a fixed number of packets with build/derpbench, stops derpd and
# prints each worker's instruction count per packet; callgrind_annotate
# files are left beside the profiles in $OUT (default /tmp/derpd-prof).
set -eu
cd "$(dirname "$0")/.."
place=${1:-same}
size=${2:-1024}
count=${3:-20000}
pairs=${4:-1}
mode=${5:-tls}
workers=${WORKERS:-2}
OUT=${OUT:-/tmp/derpd-prof}
rm -rf "$OUT"
mkdir -p "$OUT/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$OUT/certs/127.0.0.1.key" -out "$OUT/certs/127.0.0.1.crt" 2>/dev/null
chmod 600 "$OUT/certs/127.0.0.1.key"
./build/derpd-keygen "$OUT/derpd.key" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=""
[ "$(id -u)" = 0 ] && user="-user nobody"
tlsargs=""
scheme=http
if [ "$mode" = tls ]; then
	tlsargs="-certmode manual -certdir $OUT/certs -hostname 127.0.0.1"
	scheme=https
fi
chmod 777 "$OUT"	# the workers write their profiles after dropping privileges
cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$OUT/noseccomp.so" bench/noseccomp.c
# shellcheck disable=SC2086
LD_PRELOAD="$OUT/noseccomp.so" setsid valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$OUT/callgrind.%p" \
	--collect-atstart=no --toggle-collect='run*' \
	./build/derpd -a 127.0.0.1:$port -c "$OUT/derpd.key" -workers "$workers" \
	-stun=false -http-port=-1 -placement source-port -no-seccomp $user $tlsargs >"$OUT/derpd.log" 2>&1 &
vg=$!
trap 'kill -TERM $vg 2>/dev/null || true' EXIT
i=0
until [ "$(grep -c 'ready' "$OUT/derpd.log" || true)" -ge "$workers" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || { cat "$OUT/derpd.log"; kill $vg; exit 1; }
	sleep 0.1
done
./build/derpbench -k -P "$pairs" -n "$count" -d 600 -s "$size" -x "$place" -W "$workers" \
	--strict $scheme://127.0.0.1:$port
kill -TERM $vg
wait $vg || true
total=$((count * pairs))
sum=0
for w in $(sed -n 's/.*worker \([0-9]*\) started, pid \([0-9]*\).*/\2/p' "$OUT/derpd.log"); do
	f="$OUT/callgrind.$w"
	[ -f "$f" ] || continue
	ir=$(sed -n 's/^summary: *//p' "$f")
	sum=$((sum + ir))
	echo "worker pid $w: $ir instructions in its event loop"
	callgrind_annotate "$f" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,22p' >"$f.top"
	callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/file:function/,$p' | grep -v '???' | sed -n '3,30p' >"$f.incl"
done
echo "all workers: $sum instructions, $((sum / total)) per packet ($total packets of $size B, $pairs pair(s), $place worker, $mode)"
echo "self cost and inclusive cost per worker: $OUT/callgrind.*.top, *.incl"

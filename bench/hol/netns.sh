#!/usr/bin/env bash
# The head-of-line lab's network: a server namespace and a client namespace joined through a middle namespace
# in which linkem (./linkem.c) holds every frame for a fixed one-way delay, a tbf qdisc on each of the middle's
# egress interfaces makes the path's narrow link, and nftables on each end host's input hook drops a random
# share of what arrives (the project's verified loss recipe; a drop on output would be an error, not loss).
#
#   server ns  10.201.0.1 [A] ---- [B] middle ns: linkem + tbf [C] ---- [D] 10.201.0.2  client ns
#
# Every name carries the prefix syhol and the lab's id, so runs never touch anything else.
#
#   netns.sh up   ID DELAY_MS RATE_MBIT QUEUE_KB   creates it all, prints the linkem binary's pid file path
#   netns.sh loss ID PERCENT                       sets the random loss on both input hooks (0 removes it)
#   netns.sh counters ID                           nftables counters (JSON) of both ends
#   netns.sh kill-server ID                        kills whatever runs in the server namespace (a restart)
#   netns.sh down ID                               kills whatever runs in the namespaces and deletes them
#   netns.sh check                                 exits non-zero with a reason when this host cannot run the lab
set -euo pipefail

cmd=${1:?usage: netns.sh up|loss|counters|down|check ...}
here="$(cd "$(dirname "$0")" && pwd)"

check() {
  local missing=()
  for tool in ip nft tc gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "the head-of-line lab needs ${missing[*]} (apt-get install iproute2 nftables gcc)" >&2
    exit 3
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "the head-of-line lab needs root (network namespaces, nftables, AF_PACKET)" >&2
    exit 3
  fi
}

names() {
  local id=$1
  SRV="syhol-$id-srv"; MID="syhol-$id-mid"; CLI="syhol-$id-cli"
  A="syhol${id}a"; B="syhol${id}b"; C="syhol${id}c"; D="syhol${id}d"
  TABLE="syhol_$id"
  RUN="/tmp/syhol-$id"
}

quiet_ns() {
  # No IPv6 chatter (router solicitations, DAD) crossing the link during runs.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

up() {
  local id=$1 delay_ms=$2 rate_mbit=$3 queue_kb=$4
  names "$id"
  check
  mkdir -p "$RUN"
  gcc -O2 -Wall -o "$RUN/linkem" "$here/linkem.c"
  for ns in "$SRV" "$MID" "$CLI"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    quiet_ns "$ns"
  done
  ip link add "$A" netns "$SRV" type veth peer name "$B" netns "$MID"
  ip link add "$D" netns "$CLI" type veth peer name "$C" netns "$MID"
  for pair in "$SRV:$A" "$MID:$B" "$MID:$C" "$CLI:$D"; do
    local ns=${pair%%:*} dev=${pair#*:}
    # One packet per skb end to end: loss must hit packets, not 64 KB super-packets (there is no ethtool here).
    ip -n "$ns" link set "$dev" gso_max_segs 1 gso_max_size 1500 gro_max_size 1500
    ip -n "$ns" link set "$dev" up
  done
  ip -n "$MID" link set "$B" promisc on
  ip -n "$MID" link set "$C" promisc on
  ip -n "$SRV" addr add 10.201.0.1/24 dev "$A"
  ip -n "$CLI" addr add 10.201.0.2/24 dev "$D"
  # This machine's default is BBR, which mostly ignores loss, while both QUIC stacks in the lab (Chromium,
  # Deno's quinn) use loss-based congestion control (Cubic). A namespace may only pick from the host's allowed
  # list (reno, bbr here; cubic would need a host-wide change), so TCP runs Reno: at the lab's small windows
  # Cubic behaves like Reno (its TCP-friendly region). LAB_TCP_CC=bbr measures with the machine default.
  for ns in "$SRV" "$CLI"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="${LAB_TCP_CC:-reno}"
  done
  if [ "$rate_mbit" != "0" ]; then
    for dev in "$B" "$C"; do
      tc -n "$MID" qdisc add dev "$dev" root tbf rate "${rate_mbit}mbit" burst 32kb limit "${queue_kb}kb"
    done
  fi
  for ns in "$SRV" "$CLI"; do
    ip netns exec "$ns" nft add table inet "$TABLE"
    ip netns exec "$ns" nft add chain inet "$TABLE" input '{ type filter hook input priority 0 ; }'
    # Counts packets that would betray GRO merging (loss must apply per packet).
    ip netns exec "$ns" nft add rule inet "$TABLE" input iifname "syhol*" meta length gt 1500 counter
  done
  ip netns exec "$MID" "$RUN/linkem" "$B" "$C" "$((delay_ms * 1000))" >"$RUN/linkem.out" 2>"$RUN/linkem.err" &
  echo $! >"$RUN/linkem.pid"
  for _ in $(seq 50); do
    grep -q ready "$RUN/linkem.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q ready "$RUN/linkem.out" || { cat "$RUN/linkem.err" >&2; exit 4; }
}

loss() {
  local id=$1 pct=$2
  names "$id"
  for ns in "$SRV" "$CLI"; do
    ip netns exec "$ns" nft flush chain inet "$TABLE" input
    ip netns exec "$ns" nft add rule inet "$TABLE" input iifname "syhol*" meta length gt 1500 counter
    if [ "$pct" != "0" ]; then
      ip netns exec "$ns" nft add rule inet "$TABLE" input iifname "syhol*" numgen random mod 100 lt "$pct" counter drop
    fi
    ip netns exec "$ns" nft add rule inet "$TABLE" input iifname "syhol*" counter
  done
}

counters() {
  names "$1"
  echo "{\"server\":$(ip netns exec "$SRV" nft -j list table inet "$TABLE"),\"client\":$(ip netns exec "$CLI" nft -j list table inet "$TABLE")}"
}

down() {
  names "$1"
  set +e
  # linkem first, politely, so that it prints its counters.
  if [ -f "$RUN/linkem.pid" ]; then
    kill -TERM "$(cat "$RUN/linkem.pid")" 2>/dev/null || true
    sleep 0.3
  fi
  for ns in "$CLI" "$SRV" "$MID"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    fi
  done
  sleep 0.5
  for ns in "$CLI" "$SRV" "$MID"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
}

kill_server() {
  names "$1"
  for pid in $(ip netns pids "$SRV" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.5
}

case "$cmd" in
  check) check ;;
  up) up "${@:2}" ;;
  loss) loss "${@:2}" ;;
  counters) counters "${@:2}" ;;
  down) down "${@:2}" ;;
  kill-server) kill_server "${@:2}" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac

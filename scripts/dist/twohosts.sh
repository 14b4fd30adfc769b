#!/bin/sh
# twohosts.sh — two "hosts" on this machine, for running an MPI job across a real network
# link: network namespaces ember-h1 and ember-h2 joined by a veth pair (ember-v1 in h1,
# ember-v2 in h2) on a private /24, loopback up in each.
#
#   twohosts.sh up                  create them (again: nothing changes)
#   twohosts.sh down                remove them and end what still runs inside (again: no-op)
#   twohosts.sh netem DELAY [RATE]  tc netem delay (e.g. 2ms) and optional rate (e.g. 1gbit)
#                                   on both ends of the link; "netem off" removes it
#   twohosts.sh run N CMD...        mpirun from h1 with N ranks, the first ceil(N/2) on h1
#                                   and the rest on h2, over MPI's TCP transport on the veth
#   twohosts.sh status              the namespaces, addresses and qdiscs
#
# Each end's netem delays what leaves it, so one way costs DELAY and a round trip 2*DELAY.
# A kernel built without netem (CONFIG_NET_SCH_NETEM) gets the same link in user space
# instead: delaylink.c, TUN devices ember-t1/ember-t2 and a host route to the peer through
# them (TWOHOSTS_DELAY=user asks for it where netem exists too).
# There is no ssh between the hosts: mpirun starts h2's daemon through the launcher agent
# netns_agent.sh, which runs it in h2 with `ip netns exec`. Each side also runs under its
# namespace's name as host name (a UTS namespace): MPI groups ranks into hosts by name.
# Only TCP is allowed (pml ob1, btl tcp,self): shared memory between the two namespaces
# would bypass the link.
# Environment: TWOHOSTS_ID (letters and digits: a pair of its own, ember-ID-h1 and
# ember-ID-h2, so that runs at the same time do not share one), TWOHOSTS_NET (first
# three octets, default 10.213.77), TWOHOSTS_MPIRUN (extra mpirun arguments).
# Needs root and `ip netns`.
set -u
ID=${TWOHOSTS_ID:-}
case $ID in *[!A-Za-z0-9]*) echo "twohosts: TWOHOSTS_ID must be letters and digits, not '$ID'" >&2; exit 1 ;; esac
H1=ember-${ID:+$ID-}h1
H2=ember-${ID:+$ID-}h2
# the devices live only inside the namespaces, so every pair can use the same names
V1=ember-v1
V2=ember-v2
T1=ember-t1
T2=ember-t2
STATE=/run/ember-twohosts/${ID:-default}
NET=${TWOHOSTS_NET:-10.213.77}
A1=$NET.1
A2=$NET.2
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "twohosts: $*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and tc); run it as root"
  command -v ip >/dev/null 2>&1 || die "needs ip from iproute2 (Debian: apt-get install iproute2)"
  ip netns list >/dev/null 2>&1 || die "ip netns is not available here (kernel or iproute2 without network namespaces)"
}

exists() { ip netns list 2>/dev/null | grep -q "^$1\( \|\$\)"; }

is_up() {
  exists $H1 && exists $H2 &&
    ip -n $H1 addr show dev $V1 2>/dev/null | grep -q "inet $A1/24" &&
    ip -n $H2 addr show dev $V2 2>/dev/null | grep -q "inet $A2/24" &&
    ip -n $H1 link show dev $V1 2>/dev/null | grep -q "state UP"
}

# ends every process still inside a namespace (an orted or rank left by a killed job),
# by id, then deletes the namespace; its veth end goes with it
remove_ns() {
  exists "$1" || return 0
  pids=$(ip netns pids "$1" 2>/dev/null)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null
    sleep 0.5
    pids=$(ip netns pids "$1" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  fi
  ip netns delete "$1" 2>/dev/null || { sleep 0.5; ip netns delete "$1"; }
}

down() {
  stop_link
  remove_ns $H1
  remove_ns $H2
  rm -rf "$STATE"
  ! exists $H1 && ! exists $H2 || die "could not remove the namespaces"
}

up() {
  is_up && return 0
  down
  # from here a failure undoes everything
  trap 'down; exit 1' INT TERM
  err=$(ip netns add $H1 2>&1) ||
    { down; die "ip netns add failed: $err (are network namespaces available?)"; }
  err=$({ ip netns add $H2 &&
    ip link add name $V1 netns $H1 type veth peer name $V2 netns $H2 &&
    ip -n $H1 addr add $A1/24 dev $V1 && ip -n $H2 addr add $A2/24 dev $V2 &&
    ip -n $H1 link set lo up && ip -n $H2 link set lo up &&
    ip -n $H1 link set $V1 up && ip -n $H2 link set $V2 up; } 2>&1) ||
    { down; die "could not set up the veth pair between $H1 and $H2: $err"; }
  trap - INT TERM
  # A training step leaves the link idle between its allreduces; by default TCP then
  # restarts from slow start each time, which a tuned cluster network does not do and
  # which would make every step's first transfer crawl. Each namespace has its own TCP
  # settings, so this touches only the two hosts.
  for h in $H1 $H2; do ip netns exec $h sysctl -qw net.ipv4.tcp_slow_start_after_idle=0 2>/dev/null || true; done
  # the link answers before anyone uses it (where ping is installed)
  if command -v ping >/dev/null 2>&1; then
    ip netns exec $H1 ping -c 1 -W 2 $A2 >/dev/null 2>&1 ||
      { down; die "$H1 cannot reach $A2 over the veth pair"; }
  fi
}

# tc's units for the user-space link: DELAY as us, ms or s; RATE as bit, kbit, mbit, gbit
to_us() {
  echo "$1" | awk '/^[0-9.]+(us|ms|s)$/ { v = $0 + 0; u = $0; sub(/^[0-9.]+/, "", u);
    printf "%d\n", v * (u == "us" ? 1 : u == "ms" ? 1000 : 1000000); ok = 1 } END { exit !ok }'
}
to_bps() {
  echo "$1" | awk '/^[0-9.]+(bit|kbit|mbit|gbit)$/ { v = $0 + 0; u = $0; sub(/^[0-9.]+/, "", u);
    printf "%.0f\n", v * (u == "bit" ? 1 : u == "kbit" ? 1e3 : u == "mbit" ? 1e6 : 1e9); ok = 1 }
    END { exit !ok }'
}

# the user-space link of an earlier netem call, if one runs: ended by its id
stop_link() {
  [ -f "$STATE/delaylink.pid" ] || return 0
  pid=$(cat "$STATE/delaylink.pid")
  if grep -q delaylink "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  rm -f "$STATE/delaylink.pid"
}

# netem where the kernel has it; else delaylink.c: TUN devices ember-t1 and ember-t2
# and a host route to the peer through them, so the same addresses go through the delay
netem() {
  is_up || die "the hosts are not up (twohosts.sh up)"
  [ $# -ge 1 ] || die "netem: give a delay (e.g. 2ms) or off"
  if [ "$1" != off ]; then
    us=$(to_us "$1") || die "netem: delay '$1' is not a number with us, ms or s (e.g. 2ms)"
    bps=0
    if [ $# -ge 2 ]; then
      bps=$(to_bps "$2") || die "netem: rate '$2' is not a number with bit, kbit, mbit or gbit"
    fi
  fi
  stop_link
  tc -n $H1 qdisc del dev $V1 root 2>/dev/null
  tc -n $H2 qdisc del dev $V2 root 2>/dev/null
  [ "$1" = off ] && return 0
  # a long queue: a delayed fast link holds many packets in flight, and netem's default
  # 1000 would drop them and measure TCP's recovery instead of the delay
  if [ "${TWOHOSTS_DELAY:-}" != user ] &&
     tc -n $H1 qdisc replace dev $V1 root netem delay "$1" ${2:+rate "$2"} limit 100000 2>/dev/null; then
    tc -n $H2 qdisc replace dev $V2 root netem delay "$1" ${2:+rate "$2"} limit 100000 ||
      die "netem: tc refused delay '$1'${2:+ rate '$2'}"
    return 0
  fi
  mkdir -p "$STATE"
  bin=${STATE%/*}/delaylink     # one build for every pair, replaced whole
  if [ ! -x "$bin" ] || [ "$HERE/delaylink.c" -nt "$bin" ]; then
    cc -O2 -o "$bin.$$" "$HERE/delaylink.c" && mv -f "$bin.$$" "$bin" ||
      { rm -f "$bin.$$"; die "netem: the kernel has no netem and delaylink.c does not build"; }
  fi
  "$bin" $H1 $T1 $H2 $T2 "$us" "$bps" >"$STATE/delaylink.out" 2>&1 &
  echo $! >"$STATE/delaylink.pid"
  i=0
  until grep -q ready "$STATE/delaylink.out" 2>/dev/null; do
    [ $i -lt 50 ] && kill -0 "$(cat "$STATE/delaylink.pid")" 2>/dev/null ||
      { stop_link; die "netem: the user-space link did not start: $(cat "$STATE/delaylink.out")"; }
    sleep 0.1; i=$((i + 1))
  done
  { ip -n $H1 link set $T1 mtu 65000 up && ip -n $H2 link set $T2 mtu 65000 up &&
    ip -n $H1 route replace $A2/32 dev $T1 src $A1 &&
    ip -n $H2 route replace $A1/32 dev $T2 src $A2; } ||
    { stop_link; die "netem: could not route the hosts through $T1 and $T2"; }
}

run() {
  is_up || die "the hosts are not up (twohosts.sh up)"
  [ $# -ge 2 ] || die "run: give the number of ranks and a command"
  n=$1; shift
  case $n in ''|*[!0-9]*|0) die "run: the number of ranks must be a positive integer, not '$n'" ;; esac
  n1=$(( (n + 1) / 2 )); n2=$(( n - n1 ))
  hosts="$A1:$n1"
  [ "$n2" -gt 0 ] && hosts="$hosts,$A2:$n2"
  # mpirun runs under h1's name as host name, as the agent runs h2's daemon under h2's.
  # --bind-to none: each daemon believes it has the machine to itself and would bind its
  # first rank to core 0, putting ranks of both hosts on one core.
  # shellcheck disable=SC2086
  exec ip netns exec $H1 unshare --uts sh -c 'hostname "$0" && exec "$@"' $H1 \
    mpirun --allow-run-as-root --oversubscribe -np "$n" --host "$hosts" \
    --mca plm_rsh_agent "$HERE/netns_agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --bind-to none --mca pml ob1 --mca btl tcp,self --mca osc ^ucx \
    --mca btl_tcp_if_include $NET.0/24 --mca oob_tcp_if_include $NET.0/24 \
    ${TWOHOSTS_MPIRUN:-} "$@"
}

status() {
  for ns in $H1 $H2; do
    if exists $ns; then
      echo "$ns: $(ip -n $ns -brief addr show | grep ember- | tr -s ' ')"
      tc -n $ns qdisc show | grep ember- | sed 's/^/  /'
      ip -n $ns route show | grep ember-t | sed 's/^/  user-space link: /'
    else
      echo "$ns: absent"
    fi
  done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  up) need_root; up ;;
  down) need_root; down ;;
  netem) need_root; netem "$@" ;;
  run) need_root; run "$@" ;;
  status) need_root; status ;;
  *) die "usage: twohosts.sh up | down | netem DELAY [RATE] | netem off | run N CMD... | status" ;;
esac

#!/bin/sh
# netns_agent.sh — the launcher agent twohosts.sh gives mpirun in place of ssh:
#   netns_agent.sh [options] HOST COMMAND...
# runs COMMAND (mpirun's daemon, orted) with sh -c inside the namespace that holds HOST's
# address and under that namespace's name as host name, as ssh would run it on HOST. Options (ssh's -x and the like)
# are ignored. TWOHOSTS_ID and TWOHOSTS_NET come from twohosts.sh through mpirun.
ID=${TWOHOSTS_ID:-}
NET=${TWOHOSTS_NET:-10.213.77}
while [ $# -gt 0 ]; do
  case $1 in -*) shift ;; *) break ;; esac
done
[ $# -ge 2 ] || { echo "netns_agent: usage: netns_agent.sh HOST COMMAND..." >&2; exit 255; }
host=$1; shift
case $host in
  "$NET.1") ns=ember-${ID:+$ID-}h1 ;;
  "$NET.2") ns=ember-${ID:+$ID-}h2 ;;
  *) echo "netns_agent: no namespace for host '$host' (known: $NET.1, $NET.2)" >&2; exit 255 ;;
esac
# a host name of its own too (a UTS namespace): MPI tells which ranks share a host by
# its name, and two hosts named alike would get one shared-memory group across both
exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $ns && $*"

#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine, for the system tests and for
# trying `rlsight sweep run --launcher slurm` without a real cluster.
#
# Needs Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge) and root.
# Idempotent: it rewrites /etc/slurm/slurm.conf only when this host's values
# changed, creates a munge key only if there is none, starts only the daemons
# that are not running, and waits until `sinfo` shows the node idle.
#
#   sudo scripts/slurm-up.sh            # start (or check) the cluster
#   SLURM_UP_TIMEOUT=120 scripts/slurm-up.sh
set -euo pipefail

TIMEOUT="${SLURM_UP_TIMEOUT:-60}"
CONF=/etc/slurm/slurm.conf

die() { echo "slurm-up: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (the daemons and /etc/slurm need it)"
for cmd in slurmctld slurmd munged sinfo scontrol; do
    command -v "$cmd" >/dev/null || die "$cmd not found: apt-get install -y slurm-wlm munge"
done

HOST="$(hostname -s)"
getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >>/etc/hosts

# CPUs, sockets, cores and memory as slurmd itself detects them; leave 5% of
# the memory (at least 256 MB) to the system so that slurmd never reports
# less than configured, which would drain the node.
NODE_LINE="$(slurmd -C | head -n1)"
MEM="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")"
RESERVE=$(( MEM / 20 > 256 ? MEM / 20 : 256 ))
NODE_LINE="$(sed "s/RealMemory=[0-9]*/RealMemory=$(( MEM - RESERVE ))/" <<<"$NODE_LINE")"

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
NEW_CONF="$(cat <<EOF
# Written by rlsight scripts/slurm-up.sh: a single-node cluster on $HOST.
ClusterName=rlsight
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
KillWait=5
$NODE_LINE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)"
CHANGED=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
    printf '%s\n' "$NEW_CONF" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    CHANGED=1
fi

# munge: a key if missing, then the daemon (as the munge user).
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0700 /etc/munge
# Daemons start without this script's open files: a lock held by whoever runs it (flock
# LOCK scripts/test.sh) or a pipe a caller reads to its end would stay open, and held, for
# as long as the daemon runs. What one prints before it detaches goes to LOG.
daemon() {  # daemon LOG COMMAND...
    local log="$1"
    shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done
        exec "$@" </dev/null >>"$log" 2>&1
    ) || die "$* failed to start (exit $?); see $log"
}
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    daemon /var/log/munge/slurm-up.log runuser -u munge -- munged
    for _ in $(seq 20); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    munge -n </dev/null | unmunge >/dev/null || die "munged did not start (see /var/log/munge/munged.log)"
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if running /run/slurmctld.pid; then
    [ "$CHANGED" = 0 ] || scontrol reconfigure
else
    daemon /var/log/slurm/slurm-up.log slurmctld
fi
running /run/slurmd.pid || daemon /var/log/slurm/slurm-up.log slurmd

# Wait for the node to register; bring it back if an earlier run left it down.
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    state="$(sinfo -h -n "$HOST" -o '%t' 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle|mix|alloc) break ;;
        down*|drain*|drng*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || die "node $HOST not idle after ${TIMEOUT}s (state: ${state:-none}); see /var/log/slurm/"
    sleep 1
done
echo "slurm-up: node $HOST is $state ($(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_LINE") CPUs, $(( MEM - RESERVE )) MB)"

#!/bin/bash
# Bring up the Cerulean integration testbed on loopback only (127.0.0.1 and ::1). Run as root.
#
#   OpenSSH sshd :2222 (MaxSessions 64) and :2224 (stock MaxSessions 10), dropbear :2223,
#   munge + MariaDB (unix socket only) + slurmdbd :6819, slurmctld :6817,
#   slurmd :6818 (node `hostname -s`) and :6820 (node2), slurm-wlm-torque wrappers (qsub/qstat/qdel),
#   Apache httpd WebDAV http :8080 / https :8443, the Cerulean fixture tree, /usr/local/bin/endless-job.sh.
#
# Writes $CERULEAN_TESTBED_DIR/testbed.env (default <repo>/.testbed/testbed.env), read by the tests.
# Idempotent: running services are left alone (restarted only when their generated configuration
# changed); packages already installed are not touched. See docs/testing.md.
#
# Options:
#   --reset-fixtures   also delete what test runs left in /home/cerulean/test_files and in the
#                      WebDAV areas (never while tests run). The fixture entries themselves
#                      (links/, fifo, chardev, blockdev) are always repaired when they changed.
#
# Recipe and measurements: notes/testbed.md (the shared notes of the project).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESET_FIXTURES=0
for arg in "$@"; do
  case $arg in
    --reset-fixtures) RESET_FIXTURES=1 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown option: $arg" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "up.sh must run as root (it installs Debian packages and starts daemons)"

mkdir -p "$TB"/{etc,keys,logs,run}
# One up.sh/down.sh at a time on this machine. fd 9 must not leak into the daemons (they would
# hold the lock forever), so every daemon is started with 9>&- (see start()).
exec 9>"$LOCK_FILE"
flock -w 900 9 || die "timed out waiting for $LOCK_FILE (another up.sh/down.sh is running)"

# put FILE MODE [OWNER:GROUP] <CONTENT: write FILE only if content/mode/owner differ.
# Sets CHANGED=1 when it wrote, so callers can restart the daemon that reads FILE.
put() {
  local f=$1 mode=$2 owner=${3:-root:root} tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f" && [ "$(stat -c '%a %U:%G' "$f")" = "$(stat -c '%a %U:%G' "$tmp")" ]; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$f"
    CHANGED=1
  fi
}

# ============================================================================ 0. packages
PKGS=(openssh-server openssh-sftp-server openssh-client sshpass dropbear-bin
  munge slurmctld slurmd slurm-client slurmdbd mariadb-server slurm-wlm-torque
  apache2 apache2-utils gcc libc6-dev curl openssl iproute2)
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null | awk '$2 == "ii" {print $1}' || true)
missing=()
for p in "${PKGS[@]}"; do grep -qx "$p" <<<"$installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  phase "apt-get install ${missing[*]}"
  # Without a policy-rc.d that refuses, the maintainer scripts would start the system sshd on
  # 0.0.0.0:22, apache2 on :80, munge, mariadb and slurm. Keep an existing one; remove ours after.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# cerulean testbed: no service starts during apt-get\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  inst() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$TB/logs/apt.log" 2>&1; }
  # stale or missing package lists: update once and retry
  if ! inst && ! { apt-get update -q >>"$TB/logs/apt.log" 2>&1 && inst; }; then
    tail -n 30 "$TB/logs/apt.log" >&2
    [ $created_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
    die "apt-get install failed (log: $TB/logs/apt.log)"
  fi
  [ $created_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
  phase "packages installed"
fi

# Slurm binds to (and compares) the address the node name resolves to: it must be loopback.
if ! getent ahostsv4 "$H" | awk '{print $1}' | grep -q '^127\.'; then
  echo "127.0.0.1 $H" >>/etc/hosts
  phase "added '127.0.0.1 $H' to /etc/hosts"
fi

# ============================================================================ 1. users and client keys
for u in cerulean keyuser; do
  id -u "$u" >/dev/null 2>&1 || { useradd --create-home --shell /bin/bash "$u"; phase "created user $u"; }
done
# (re)set passwords once per state dir; chpasswd rewrites /etc/shadow, so not on every run
if [ ! -f "$TB/run/passwords-set" ]; then
  echo 'cerulean:kingfisher' | chpasswd
  passwd -l keyuser >/dev/null   # key-only: password locked (sshd also enforces publickey, below)
  touch "$TB/run/passwords-set"
fi

chmod 700 "$TB/keys"
mkkey() { # NAME ssh-keygen-args...
  [ -f "$TB/keys/$1" ] || ssh-keygen -q "${@:2}" -C "cerulean-testbed-$1" -f "$TB/keys/$1"
}
mkkey id_rsa -t rsa -b 3072 -N ''                    # OpenSSH format
mkkey id_rsa_pem -t rsa -b 2048 -m PEM -N ''         # -----BEGIN RSA PRIVATE KEY-----
mkkey id_rsa_pem_pass -t rsa -b 2048 -m PEM -N kingfisher   # PEM, Proc-Type: 4,ENCRYPTED
mkkey id_rsa_pass -t rsa -b 2048 -N kingfisher
mkkey id_ed25519 -t ed25519 -N ''
mkkey id_ed25519_pass -t ed25519 -N kingfisher
mkkey id_ecdsa -t ecdsa -b 256 -N ''                 # ecdsa-sha2-nistp256
mkkey id_ecdsa_pass -t ecdsa -b 256 -N kingfisher
for u in cerulean keyuser; do
  home=$(getent passwd "$u" | cut -d: -f6)
  install -d -m 700 -o "$u" -g "$u" "$home/.ssh"
  cat "$TB"/keys/*.pub | put "$home/.ssh/authorized_keys" 600 "$u:$u"
done

# ============================================================================ 2. fixtures
TF=/home/cerulean/test_files
# Signature of the fixture entries (type, mode, owner, size, mtime, link target): any change by a
# test run (write, chmod, rename, delete, extra file in links/) makes up.sh rebuild them.
fixture_sig() { { find "$@" -printf '%p %y %m %u %s %T@ %l\n' 2>/dev/null || true; } | sort; }

# Same layout as upstream create-test-files.sh + the container-test image (executable, private).
build_local_fixtures() {
  rm -rf "$TF/links" "$TF/fifo" "$TF/chardev" "$TF/blockdev"
  install -d -o cerulean -g cerulean -m 755 "$TF" "$TF/links"
  printf 'Hello World\n' >"$TF/links/file0"
  : >"$TF/links/file1"
  : >"$TF/links/executable"
  : >"$TF/links/private"
  chmod 644 "$TF/links/file0" "$TF/links/file1"
  chmod 744 "$TF/links/executable"
  chmod 600 "$TF/links/private"
  ln -s "$TF/links/file0" "$TF/links/link0"      # absolute targets, as upstream
  ln -s "$TF/links/link0" "$TF/links/link1"      # link -> link -> file
  ln -s /doesnotexist "$TF/links/link2"          # broken
  ln -s "$TF/links/link3" "$TF/links/link4"      # loop link3 <-> link4
  ln -s "$TF/links/link4" "$TF/links/link3"
  mkfifo -m 644 "$TF/fifo"
  mknod -m 644 "$TF/chardev" c 0 0 || log "could not create $TF/chardev (mknod c 0 0 not permitted)"
  mknod -m 644 "$TF/blockdev" b 0 0 || log "could not create $TF/blockdev (mknod b 0 0 not permitted)"
  chown -R -h cerulean:cerulean "$TF"
}
# The WebDAV copy (upstream cerulean-fake-webdav): no fifo/devices, links 2-4 dropped, link0 and
# link1 served as plain files with file0's content. Mirrors the path /home/cerulean/test_files.
build_webdav_fixtures() { # AREA_DIR
  local d=$1/home/cerulean/test_files
  rm -rf "$d/links"
  install -d -o www-data -g www-data -m 755 "$1/home" "$1/home/cerulean" "$d" "$d/links"
  for f in file0 link0 link1; do printf 'Hello World\n' >"$d/links/$f"; done
  : >"$d/links/file1"
  : >"$d/links/executable"
  : >"$d/links/private"
  chmod 644 "$d"/links/*
  chown -R www-data:www-data "$d"
}

install -d -o www-data -g www-data -m 755 "$WEBDAV_ROOT" "$WEBDAV_ROOT/files" "$WEBDAV_ROOT/protected_files" "$WEBDAV_ROOT/.davlock"
if [ $RESET_FIXTURES = 1 ]; then
  log "--reset-fixtures: removing everything in $TF and in the WebDAV areas"
  rm -rf "${TF:?}" "${WEBDAV_ROOT:?}"/files/* "$WEBDAV_ROOT"/protected_files/*
  rm -f "$TB/run/fixtures.sig"
fi
# -maxdepth 1 on links dirs; the test_files dirs themselves only as entries (their mtime changes
# whenever a test creates a file next to links/, which is allowed)
current_sig() {
  { find "$TF" -maxdepth 0 -printf '%p %y %m %u\n' 2>/dev/null || true
    fixture_sig "$TF/links" "$TF/fifo" "$TF/chardev" "$TF/blockdev" -maxdepth 1
    for area in files protected_files; do fixture_sig "$WEBDAV_ROOT/$area/home/cerulean/test_files/links" -maxdepth 1; done
  }
}
if [ ! -f "$TB/run/fixtures.sig" ] || [ "$(current_sig)" != "$(cat "$TB/run/fixtures.sig")" ]; then
  build_local_fixtures
  for area in files protected_files; do build_webdav_fixtures "$WEBDAV_ROOT/$area"; done
  current_sig >"$TB/run/fixtures.sig"
  phase "fixtures (re)built: $TF and WebDAV /files, /protected_files"
fi
CHANGED=0
printf '#!/bin/bash\n# cerulean testbed: a job that never ends (cancel tests)\nwhile true; do sleep 1; done\n' |
  put /usr/local/bin/endless-job.sh 755

# ============================================================================ 3. host keys, known_hosts
mkdir -p "$TB/etc/hostkeys" "$TB/etc/dropbear" "$TB/etc/wrong-hostkeys"
for t in ed25519 rsa ecdsa; do
  [ -f "$TB/etc/hostkeys/ssh_host_${t}_key" ] || ssh-keygen -q -t $t -N '' -C "cerulean-testbed-host" -f "$TB/etc/hostkeys/ssh_host_${t}_key"
  # a different key per type, for host-key mismatch tests
  [ -f "$TB/etc/wrong-hostkeys/ssh_host_${t}_key" ] || ssh-keygen -q -t $t -N '' -C "cerulean-testbed-wrong" -f "$TB/etc/wrong-hostkeys/ssh_host_${t}_key"
done
for t in ed25519 rsa ecdsa; do
  k=$TB/etc/dropbear/${t}_host_key
  if [ ! -f "$k" ]; then
    case $t in rsa) dropbearkey -t rsa -s 2048 -f "$k" >/dev/null 2>&1 ;; ecdsa) dropbearkey -t ecdsa -s 256 -f "$k" >/dev/null 2>&1 ;; *) dropbearkey -t "$t" -f "$k" >/dev/null 2>&1 ;; esac
  fi
  [ -s "$k.pub" ] || dropbearkey -y -f "$k" 2>/dev/null | grep -E '^(ssh|ecdsa)-' | cut -d' ' -f1,2 >"$k.pub"
done
# known_hosts lines "[host]:port keytype base64", one name per line (so ssh-keygen -H hashes each)
kh() { # PORT PUBFILE...
  local port=$1 host pub
  shift
  for host in 127.0.0.1 localhost ::1 "$H"; do
    for pub in "$@"; do echo "[$host]:$port $(cut -d' ' -f1,2 "$pub")"; done
  done
}
CHANGED=0
# `put ... < <(...)`, not `... | put`: a pipe runs put in a subshell, which loses its CHANGED=1
put "$TB/known_hosts" 644 < <(
  kh 2222 "$TB"/etc/hostkeys/ssh_host_{ed25519,rsa,ecdsa}_key.pub
  kh 2224 "$TB"/etc/hostkeys/ssh_host_{ed25519,rsa,ecdsa}_key.pub
  kh 2223 "$TB"/etc/dropbear/{ed25519,rsa,ecdsa}_host_key.pub
)
if [ $CHANGED = 1 ] || [ ! -s "$TB/known_hosts_hashed" ]; then
  cp "$TB/known_hosts" "$TB/known_hosts_hashed.tmp"
  ssh-keygen -q -H -f "$TB/known_hosts_hashed.tmp" >/dev/null 2>&1
  rm -f "$TB/known_hosts_hashed.tmp.old"
  mv -f "$TB/known_hosts_hashed.tmp" "$TB/known_hosts_hashed"
  chmod 644 "$TB/known_hosts_hashed"
fi
{
  for port in 2222 2223 2224; do kh $port "$TB"/etc/wrong-hostkeys/ssh_host_{ed25519,rsa,ecdsa}_key.pub; done
} | put "$TB/known_hosts_wrong" 644

# ============================================================================ 4. OpenSSH sshd :2222 and :2224
# sftp-server as Debian ships it, without `-l INFO`: with no syslog running here its messages were lost, and each
# cost the server a failed connect to /dev/log (six system calls, three messages per uploaded file).
sshd_config() { # PORT PIDFILE MAXSESSIONS MAXSTARTUPS
  cat <<EOF
# generated by scripts/testbed/up.sh: loopback only, own host keys and pid file
Port $1
ListenAddress 127.0.0.1
ListenAddress ::1
HostKey $TB/etc/hostkeys/ssh_host_ed25519_key
HostKey $TB/etc/hostkeys/ssh_host_rsa_key
HostKey $TB/etc/hostkeys/ssh_host_ecdsa_key
PidFile $2
LogLevel VERBOSE
PermitRootLogin no
StrictModes yes
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication yes
UsePAM yes
PermitEmptyPasswords no
X11Forwarding no
AllowTcpForwarding yes
PrintMotd no
PrintLastLog no
UseDNS no
MaxSessions $3
MaxStartups $4
MaxAuthTries 10
LoginGraceTime 30
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
# key-only user: no password / keyboard-interactive
Match User keyuser
    AuthenticationMethods publickey
EOF
}
install -d -m 0755 /run/sshd   # privilege separation dir (tmpfs); sshd refuses to start without it
CHANGED=0
put "$TB/etc/sshd_config" 600 < <(sshd_config 2222 "${PIDFILE[sshd]}" 64 100:30:200)
/usr/sbin/sshd -t -f "$TB/etc/sshd_config" || die "sshd_config invalid"
# sshd must be started by absolute path (it re-execs itself); -E: log file instead of syslog
start sshd $CHANGED /usr/sbin/sshd -f "$TB/etc/sshd_config" -E "$TB/logs/sshd.log"
CHANGED=0
# the OpenSSH defaults (MaxSessions 10, MaxStartups 10:30:100) for channel/connection limit tests
put "$TB/etc/sshd_limited_config" 600 < <(sshd_config 2224 "${PIDFILE[sshd-limited]}" 10 10:30:100)
/usr/sbin/sshd -t -f "$TB/etc/sshd_limited_config" || die "sshd_limited_config invalid"
start sshd-limited $CHANGED /usr/sbin/sshd -f "$TB/etc/sshd_limited_config" -E "$TB/logs/sshd-limited.log"

# ============================================================================ 5. dropbear :2223
# -w: no root login; -E + -F: log to stderr in the foreground (setsid -f detaches it), since
# dropbear otherwise logs to syslog, which does not run here. SFTP: dropbear execs /usr/lib/sftp-server.
start dropbear 0 setsid -f /usr/sbin/dropbear -F -E -w \
  -r "$TB/etc/dropbear/ed25519_host_key" -r "$TB/etc/dropbear/rsa_host_key" -r "$TB/etc/dropbear/ecdsa_host_key" \
  -p 127.0.0.1:2223 -p '[::1]:2223' -P "${PIDFILE[dropbear]}"

# ============================================================================ 6. munge, MariaDB, slurmdbd
# LD_PRELOAD shim: bind(0.0.0.0 / ::) -> loopback, for slurmdbd (no listen-address option)
if [ ! -f "$BIND_SHIM" ] || [ "$TESTBED_SCRIPTS/bind_loopback.c" -nt "$BIND_SHIM" ]; then
  gcc -shared -fPIC -O2 -Wall -o "$BIND_SHIM.tmp" "$TESTBED_SCRIPTS/bind_loopback.c" -ldl
  mv -f "$BIND_SHIM.tmp" "$BIND_SHIM"
  phase "compiled $BIND_SHIM"
fi

if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
start munged 0 runuser -u munge -- /usr/sbin/munged
for _ in $(seq 1 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

install -d -o mysql -g mysql -m 0755 /run/mysqld
install -d -o mysql -g adm -m 2750 /var/log/mysql
if ! pid_of mariadbd >/dev/null; then
  # unix socket only (no TCP at all); mariadbd has no daemon mode, hence setsid -f
  start mariadbd 0 setsid -f /usr/sbin/mariadbd --user=mysql --skip-networking \
    --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid --log-error=/var/log/mysql/error.log
  for _ in $(seq 1 300); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
              CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
fi
# mariadbd writes its pid file 0660; status.sh (no root needed) must be able to read it
chmod 644 "${PIDFILE[mariadbd]}"

install -d -o slurm -g slurm -m 0755 /run/slurm /var/lib/slurm /var/lib/slurm/slurmctld /var/log/slurm
install -d -m 0755 "/var/lib/slurm/slurmd.$H" /var/lib/slurm/slurmd.node2
mkdir -p "$TB/etc/slurm"
CHANGED=0
put /etc/slurm/slurmdbd.conf 600 slurm:slurm <<EOF
# generated by cerulean scripts/testbed/up.sh
# slurmdbd: MariaDB over its unix socket; listens on 127.0.0.1:6819 (LD_PRELOAD bind shim)
AuthType=auth/munge
DbdHost=$H
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdbpass
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
DebugLevel=info
EOF
start slurmdbd $CHANGED env LD_PRELOAD="$BIND_SHIM" /usr/sbin/slurmdbd

# ============================================================================ 7. slurmctld + 2 slurmd, Torque wrappers
CHANGED=0
put /etc/slurm/slurm.conf 644 <<EOF
# generated by cerulean scripts/testbed/up.sh: a Slurm 22.05 cluster on one machine, loopback only
ClusterName=testbed
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
# bind daemons to the address the hostname resolves to (127.0.0.1), not 0.0.0.0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd.%n
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
# no cgroups needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# exports PBS_QUEUE / PBS_NODEFILE into every task (Torque emulation)
TaskProlog=/etc/slurm/taskprolog.sh
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
SwitchType=switch/none
ReturnToService=2
# nodes declare more CPUs than the machine has, so several jobs run at once
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
# schedule batch jobs at submit time (default batch_sched_delay=3 s)
SchedulerParameters=batch_sched_delay=0,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# finished jobs stay visible to squeue/scontrol/qstat for 5 min
MinJobAge=300
# reject (not queue forever) jobs that exceed partition limits
EnforcePartLimits=ALL
KillWait=2
OverTimeLimit=0
InactiveLimit=0
Waittime=0
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=60
# accounting: slurmdbd (MariaDB) for sacct; jobcomp/filetxt as a second source (sacct -c)
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
NodeName=$H NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=4096 State=UNKNOWN
# second slurmd on the same machine, on its own port (for --nodes=2 tests)
NodeName=node2 NodeHostname=$H NodeAddr=127.0.0.1 Port=6820 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=2048 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=00:30:00 DefaultTime=00:10:00 State=UP
PartitionName=batch Nodes=$H,node2 Default=NO MaxTime=02:00:00 DefaultTime=00:10:00 State=UP
EOF
put /etc/slurm/taskprolog.sh 755 <<'EOF'
#!/bin/sh
# Slurm TaskProlog (cerulean testbed): each "export NAME=value" line printed here is put into the
# task's environment. Gives jobs PBS_QUEUE and PBS_NODEFILE like real Torque.
echo "export PBS_QUEUE=$SLURM_JOB_PARTITION"
if [ -n "$SLURM_NODELIST" ]; then
  f=$(/usr/bin/generate_pbs_nodefile 2>/dev/null) && echo "export PBS_NODEFILE=$f"
fi
EOF
SLURM_CHANGED=$CHANGED
# spank_pbs sets PBS_JOBID, PBS_O_WORKDIR, ... in jobs (read at each job start, no restart needed)
mkdir -p /etc/slurm/plugstack.conf.d
put /etc/slurm/plugstack.conf.d/pbs.conf 644 <<<'optional /usr/lib/x86_64-linux-gnu/slurm-wlm/spank_pbs.so'
# non-root "sacct -c" opens the jobcomp file for append, so it must be world-writable
[ -f /var/log/slurm/jobcomp.log ] || install -o slurm -g slurm -m 0666 /dev/null /var/log/slurm/jobcomp.log

if [ "$SLURM_CHANGED" = 1 ] && pid_of slurmctld >/dev/null; then
  log "slurm.conf changed: restarting slurmctld and both slurmd"
  stop_service slurmd-node2
  stop_service slurmd
  stop_service slurmctld
fi
start slurmctld 0 /usr/sbin/slurmctld
start slurmd 0 /usr/sbin/slurmd
start slurmd-node2 0 /usr/sbin/slurmd -N node2
# wait until both nodes answer (slurm_ready in lib.sh)
for i in $(seq 1 300); do
  slurm_ready && break
  # nodes left DOWN by an unclean stop: ReturnToService=2 usually clears it; nudge after 10 s
  [ "$i" = 100 ] && scontrol update NodeName="$H,node2" State=RESUME >/dev/null 2>&1 || true
  sleep 0.1
done
slurm_ready || { sinfo -N >&2; die "Slurm nodes are not ready after 30 s (logs: /var/log/slurm/)"; }

# ============================================================================ 8. Apache WebDAV :8080 / :8443
mkdir -p "$TB/etc/tls" "$TB/etc/apache" "$TB/logs/apache"
if [ ! -f "$TB/etc/tls/server.crt" ]; then
  (
    cd "$TB/etc/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Cerulean Testbed CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile server.ext 2>/dev/null
    chmod 600 ca.key server.key
    chmod 644 ca.crt server.crt
  )
  phase "made CA and server certificate"
fi
# htpasswd must be readable by www-data, so it lives next to the data; bcrypt only when missing
[ -s "$WEBDAV_ROOT/.htpasswd" ] || {
  htpasswd -bcB "$WEBDAV_ROOT/.htpasswd" cerulean kingfisher 2>/dev/null
  chmod 644 "$WEBDAV_ROOT/.htpasswd"
}
install -d -m 0755 "$APACHE_RUN"
CHANGED=0
put "$TB/etc/apache/httpd.conf" 644 <<EOF
# generated by cerulean scripts/testbed/up.sh: WebDAV on loopback, http 8080 and https 8443
ServerRoot "/etc/apache2"
ServerName localhost
DefaultRuntimeDir $APACHE_RUN
PidFile $APACHE_RUN/httpd.pid
User www-data
Group www-data
Listen 127.0.0.1:8080
Listen [::1]:8080
Listen 127.0.0.1:8443
Listen [::1]:8443
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule autoindex_module /usr/lib/apache2/modules/mod_autoindex.so
LoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so
LoadModule dav_module /usr/lib/apache2/modules/mod_dav.so
LoadModule dav_fs_module /usr/lib/apache2/modules/mod_dav_fs.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
ErrorLog $TB/logs/apache/error.log
LogLevel warn
# Access log, one line per request, unbuffered, for request-counting tests:
#   METHOD STATUS BYTES "REQUEST LINE" CLIENT USER SERVER_PORT DURATION_US
# e.g. PROPFIND 207 1234 "PROPFIND /files/home/ HTTP/1.1" 127.0.0.1 - 8443 812
LogFormat "%m %>s %B \"%r\" %a %u %{local}p %D" testbed
CustomLog $TB/logs/apache/access.log testbed
TypesConfig /etc/mime.types
Timeout 300
KeepAlive On
LimitRequestBody 0
DavLockDB $WEBDAV_ROOT/.davlock/DAVLock
<Directory />
    AllowOverride None
    Require all denied
</Directory>
Alias /files $WEBDAV_ROOT/files
Alias /protected_files $WEBDAV_ROOT/protected_files
<Directory $WEBDAV_ROOT/files>
    Dav On
    Options +Indexes
    DirectoryIndex disabled
    # no 301 for ".../dir" without slash: HEAD/MKCOL/PROPFIND on collections answer directly
    DirectorySlash Off
    Require all granted
</Directory>
<Directory $WEBDAV_ROOT/protected_files>
    Dav On
    Options +Indexes
    DirectoryIndex disabled
    DirectorySlash Off
    AuthType Basic
    AuthName "Protected files"
    AuthBasicProvider file
    AuthUserFile $WEBDAV_ROOT/.htpasswd
    Require valid-user
</Directory>
SSLSessionCache shmcb:$APACHE_RUN/ssl_scache(512000)
<VirtualHost *:8443>
    SSLEngine on
    SSLCertificateFile $TB/etc/tls/server.crt
    SSLCertificateKeyFile $TB/etc/tls/server.key
</VirtualHost>
EOF
if [ $CHANGED = 1 ]; then
  /usr/sbin/apache2 -f "$TB/etc/apache/httpd.conf" -t >/dev/null 2>&1 || {
    /usr/sbin/apache2 -f "$TB/etc/apache/httpd.conf" -t
    die "httpd.conf invalid"
  }
fi
pid_of apache2 >/dev/null || stop_apache_orphans
start apache2 $CHANGED /usr/sbin/apache2 -f "$TB/etc/apache/httpd.conf" -k start

# ============================================================================ 9. testbed.env, checks
K=$TB/keys
put "$TB/testbed.env" 644 <<EOF
CERULEAN_TB_DIR=$TB
CERULEAN_TB_HOSTNAME=$H
CERULEAN_TB_SSH_HOST=127.0.0.1
CERULEAN_TB_SSH_PORT=2222
CERULEAN_TB_SSH_LIMITED_PORT=2224
CERULEAN_TB_SSH_MAX_SESSIONS=64
CERULEAN_TB_SSH_LIMITED_MAX_SESSIONS=10
CERULEAN_TB_DROPBEAR_PORT=2223
CERULEAN_TB_USER=cerulean
CERULEAN_TB_PASSWORD=kingfisher
CERULEAN_TB_USER_UID=$(id -u cerulean)
CERULEAN_TB_USER_GID=$(id -g cerulean)
CERULEAN_TB_USER_HOME=$(getent passwd cerulean | cut -d: -f6)
CERULEAN_TB_KEY_USER=keyuser
CERULEAN_TB_KEY_PASSPHRASE=kingfisher
CERULEAN_TB_KEY_RSA=$K/id_rsa
CERULEAN_TB_KEY_RSA_PEM=$K/id_rsa_pem
CERULEAN_TB_KEY_RSA_PEM_PASS=$K/id_rsa_pem_pass
CERULEAN_TB_KEY_RSA_PASS=$K/id_rsa_pass
CERULEAN_TB_KEY_ED25519=$K/id_ed25519
CERULEAN_TB_KEY_ED25519_PASS=$K/id_ed25519_pass
CERULEAN_TB_KEY_ECDSA=$K/id_ecdsa
CERULEAN_TB_KEY_ECDSA_PASS=$K/id_ecdsa_pass
CERULEAN_TB_KNOWN_HOSTS=$TB/known_hosts
CERULEAN_TB_KNOWN_HOSTS_HASHED=$TB/known_hosts_hashed
CERULEAN_TB_KNOWN_HOSTS_WRONG=$TB/known_hosts_wrong
CERULEAN_TB_SSHD_PID_FILE=${PIDFILE[sshd]}
CERULEAN_TB_SSHD_LOG=$TB/logs/sshd.log
CERULEAN_TB_SSHD_LIMITED_PID_FILE=${PIDFILE[sshd-limited]}
CERULEAN_TB_SSHD_LIMITED_LOG=$TB/logs/sshd-limited.log
CERULEAN_TB_DROPBEAR_PID_FILE=${PIDFILE[dropbear]}
CERULEAN_TB_DROPBEAR_LOG=$TB/logs/dropbear.out
CERULEAN_TB_WEBDAV_HTTP=http://127.0.0.1:8080
CERULEAN_TB_WEBDAV_HTTPS=https://localhost:8443
CERULEAN_TB_WEBDAV_CA=$TB/etc/tls/ca.crt
CERULEAN_TB_WEBDAV_ACCESS_LOG=$TB/logs/apache/access.log
CERULEAN_TB_WEBDAV_FILES_DIR=$WEBDAV_ROOT/files
CERULEAN_TB_WEBDAV_PROTECTED_DIR=$WEBDAV_ROOT/protected_files
CERULEAN_TB_WEBDAV_TEST_FILES=/home/cerulean/test_files
CERULEAN_TB_TEST_FILES=$TF
CERULEAN_TB_ENDLESS_JOB=/usr/local/bin/endless-job.sh
CERULEAN_TB_SLURM=1
CERULEAN_TB_SLURM_PARTITIONS=debug,batch
CERULEAN_TB_SLURM_DEFAULT_PARTITION=debug
CERULEAN_TB_SLURM_NODES=$H,node2
CERULEAN_TB_SLURMCTLD_PID_FILE=${PIDFILE[slurmctld]}
CERULEAN_TB_TORQUE=1
EOF

# every port of the testbed must listen on loopback only
bad=$(ss -Hltn | awk '{print $4}' | grep -E ":($(tr ' ' '|' <<<"$ALL_PORTS"))\$" | grep -vE '^(127\.0\.0\.1|\[::1\]):' || true)
[ -z "$bad" ] || die "testbed port(s) listening on a non-loopback address: $bad"
phase "testbed up ($TB/testbed.env)"

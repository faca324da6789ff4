#!/usr/bin/env bash
# smooth.mariadb lab: real test hosts (systemd containers, each with its own IP)
# on this machine, reachable by ssh like production hosts.
#
#   lab/lab.sh setup                 host packages, podman fixes, venv, images
#   lab/lab.sh image                 build the host images if missing or stale
#   lab/lab.sh up NET N [PREFIX]     create N hosts PREFIX-1..N on network NET
#   lab/lab.sh down NET [PREFIX]     remove those hosts (and the network if empty)
#   lab/lab.sh net NET               create network NET (molecule scenarios)
#   lab/lab.sh status                list lab hosts and networks
#
# Networks (all internal unless noted, so hosts cannot reach anything outside):
#   lab      10.214.0.0/24  make demo (inventories/demo) and make lab (inventories/lab)
#   mol      10.214.1.0/24  molecule scenarios on the prebuilt image
#   nat      10.214.2.0/24  NAT network: a scenario that installs from the archive
#   mol8     10.214.3.0/24  larger molecule scenarios (expand_4: 9 hosts)
#   fence    10.214.4.0/24  the partition scenario (molecule/partition)
#   bench    10.214.5.0/24  benchmarks that need test hosts (make bench-failover)
# Host i gets .(10+i); VIPs are taken from .200 up by the inventories.
#
# Everything is idempotent: running a command twice is fine and fast.
set -euo pipefail

LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_STATE="${LAB_ROOT}/.lab"
LAB_KEY="${LAB_STATE}/id_ed25519"
LAB_VENV="${LAB_ROOT}/.venv"
LAB_SUITE="bookworm"
LAB_MIRROR="${LAB_MIRROR:-http://deb.debian.org/debian}"
LAB_BASE_IMAGE="localhost/smooth-mariadb-lab-base:${LAB_SUITE}"
LAB_FULL_IMAGE="localhost/smooth-mariadb-lab:${LAB_SUITE}"
# netavark and aardvark-dns are only recommended by podman: without them podman
# falls back to CNI, whose internal bridges this machine cannot reach.
LAB_APT_PACKAGES=(podman runc netavark aardvark-dns iptables debootstrap openssh-client iproute2
  mariadb-server mariadb-client mariadb-backup percona-toolkit)
# Packages of the image every host starts from (the "base" image), and those
# added for the prebuilt "full" image used by fast scenarios.
LAB_IMAGE_BASE_PACKAGES=(systemd systemd-sysv dbus python3 python3-apt openssh-server iproute2 procps ca-certificates less)
LAB_IMAGE_FULL_PACKAGES=(mariadb-server mariadb-client mariadb-backup python3-pymysql keepalived iputils-arping iputils-ping)

log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

network_subnet() {
  case "$1" in
    lab) echo 10.214.0.0/24 ;;
    mol) echo 10.214.1.0/24 ;;
    nat) echo 10.214.2.0/24 ;;
    mol8) echo 10.214.3.0/24 ;;
    fence) echo 10.214.4.0/24 ;;
    bench) echo 10.214.5.0/24 ;;
    *) die "unknown lab network '$1' (known: lab mol nat mol8 fence bench)" ;;
  esac
}

network_name() { echo "smooth-$1"; }

install_host_packages() {
  local missing=() p
  for p in "${LAB_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    # No service may start on this machine during the install (no systemd here).
    local had_policy=0
    [[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
    ((had_policy)) || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    ((had_policy)) || rm -f /usr/sbin/policy-rc.d
  fi
}

configure_podman() {
  # crun cannot set rlimits or use hybrid cgroups here: use runc, and default
  # ulimits no higher than this machine's hard limits (see LAB-NOTES.md).
  local conf=/etc/containers/containers.conf nofile nproc
  nofile="$(ulimit -Hn)"
  nproc="$(ulimit -Hu)"
  [[ "$nofile" == unlimited ]] && nofile=1048576
  if [[ "$nproc" == unlimited ]] || ((nproc > 32768)); then nproc=32768; fi
  local want
  want="$(printf '# managed by smooth.mariadb lab/lab.sh\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n\n[engine]\nruntime = "runc"\n\n[network]\nnetwork_backend = "netavark"\n' \
    "$nofile" "$nofile" "$nproc" "$nproc")"
  if [[ -e "$conf" ]] && ! grep -q 'managed by smooth.mariadb' "$conf"; then
    grep -q '^runtime *= *"runc"' "$conf" ||
      die "$conf exists and is not ours: add [engine] runtime = \"runc\" and [containers] default_ulimits (nofile=${nofile}, nproc=${nproc}) to it, then re-run"
    return 0
  fi
  if [[ "$(cat "$conf" 2>/dev/null)" != "$want" ]]; then
    log "writing $conf (runtime runc, ulimits nofile=${nofile} nproc=${nproc})"
    mkdir -p /etc/containers
    printf '%s\n' "$want" >"$conf"
  fi
}

create_venv() {
  local stamp="${LAB_VENV}/.requirements.sha256" want
  want="$(sha256sum "${LAB_ROOT}/lab/requirements.txt" | cut -d' ' -f1)"
  if [[ -x "${LAB_VENV}/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  log "creating Python venv ${LAB_VENV} from lab/requirements.txt"
  python3 -m venv "$LAB_VENV"
  "${LAB_VENV}/bin/pip" install -q --disable-pip-version-check -r "${LAB_ROOT}/lab/requirements.txt" 2>&1 |
    grep -v "^WARNING: Location 'file:" || true
  "${LAB_VENV}/bin/python" -c 'import ansible, pymysql, jmespath, molecule, testinfra' ||
    die "the venv is incomplete: see the pip output above"
  echo "$want" >"$stamp"
}

install_get_pip_standin() {
  # ansible-test downloads a pip bootstrap script from a host this machine
  # cannot reach; give it a stand-in and the pip wheel it installs (see
  # lab/ansible-test-get-pip.py).
  local version cache
  version="$(sed -n "s/^ *pip='\\([0-9.]*\\)',$/\\1/p" "${LAB_VENV}"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py |
    head -n1)"
  [[ "$version" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || die "cannot tell which pip ansible-test bootstraps (got '$version')"
  cache="${HOME}/.ansible/test/cache"
  mkdir -p "${cache}/wheels"
  if ! ls "${cache}/wheels/pip-${version}-"*.whl >/dev/null 2>&1; then
    "${LAB_VENV}/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "${cache}/wheels" "pip==${version}" 2>&1 | grep -v "^WARNING: Location 'file:" || true
  fi
  cmp -s "${LAB_ROOT}/lab/ansible-test-get-pip.py" "${cache}/get_pip_${version//./_}.py" ||
    cp "${LAB_ROOT}/lab/ansible-test-get-pip.py" "${cache}/get_pip_${version//./_}.py"
}

link_collection() {
  # ansible finds the collection through .collections (see ansible.cfg).
  mkdir -p "${LAB_ROOT}/.collections/ansible_collections/smooth"
  ln -sfn ../../.. "${LAB_ROOT}/.collections/ansible_collections/smooth/mariadb"
}

make_key() {
  mkdir -p "$LAB_STATE"
  chmod 700 "$LAB_STATE"
  [[ -s "$LAB_KEY" ]] || ssh-keygen -q -t ed25519 -N '' -C smooth-mariadb-lab -f "$LAB_KEY"
}

image_hash() {
  # The images are rebuilt whenever the recipe below changes.
  { declare -f build_rootfs build_images; echo "${LAB_IMAGE_BASE_PACKAGES[*]} ${LAB_IMAGE_FULL_PACKAGES[*]} ${LAB_SUITE}"; } |
    sha256sum | cut -c1-16
}

image_current() {
  local label
  label="$(podman image inspect --format '{{ index .Labels "smooth.lab.recipe" }}' "$1" 2>/dev/null || true)"
  [[ "$label" == "$(image_hash)" ]]
}

chroot_run() {
  local root="$1"; shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

build_rootfs() {
  local root="$1"
  log "debootstrap ${LAB_SUITE} (minbase) into $root"
  debootstrap --variant=minbase "$LAB_SUITE" "$root" "$LAB_MIRROR" >/dev/null
  cat >"$root/etc/apt/sources.list" <<EOF
deb ${LAB_MIRROR} ${LAB_SUITE} main
deb ${LAB_MIRROR} ${LAB_SUITE}-updates main
deb http://deb.debian.org/debian-security ${LAB_SUITE}-security main
EOF
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  mount --bind /proc "$root/proc"
  chroot_run "$root" apt-get update -qq
  chroot_run "$root" apt-get install -y -qq --no-install-recommends "${LAB_IMAGE_BASE_PACKAGES[@]}" >/dev/null
  umount "$root/proc"
  # Host keys are made at first boot, so no two hosts share them.
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  cat >"$root/etc/systemd/system/ssh.service.d/lab-hostkeys.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
  cat >"$root/etc/ssh/sshd_config.d/lab.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
EOF
  mkdir -p "$root/root/.ssh"
  chmod 700 "$root/root/.ssh"
  # Units that make no sense in a container.
  local unit
  for unit in getty@tty1.service console-getty.service systemd-logind.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  rm -f "$root/usr/sbin/policy-rc.d"
}

import_rootfs() {
  local root="$1" tag="$2"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | podman import --quiet \
    --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL smooth.lab.recipe=$(image_hash)" \
    - "$tag" >/dev/null
}

build_images() {
  if image_current "$LAB_BASE_IMAGE" && image_current "$LAB_FULL_IMAGE"; then
    return 0
  fi
  local t0=$SECONDS root
  root="$(mktemp -d /var/tmp/smooth-lab-rootfs.XXXXXX)"
  chmod 755 "$root" # the root of the image: services running as other users traverse it
  # shellcheck disable=SC2064
  trap "mountpoint -q '$root/proc' && umount '$root/proc'; rm -rf '$root'" EXIT
  build_rootfs "$root"
  log "importing $LAB_BASE_IMAGE"
  import_rootfs "$root" "$LAB_BASE_IMAGE"
  log "installing MariaDB and keepalived into the full image"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  mount --bind /proc "$root/proc"
  chroot_run "$root" apt-get update -qq
  chroot_run "$root" apt-get install -y -qq --no-install-recommends "${LAB_IMAGE_FULL_PACKAGES[@]}" >/dev/null
  # The package's own datadir initialisation does not survive a chroot: do it
  # the way its postinst does, and check that it worked.
  if [[ ! -d "$root/var/lib/mysql/mysql" ]]; then
    chroot_run "$root" mariadb-install-db --rpm --cross-bootstrap --user=mysql \
      --disable-log-bin --skip-test-db >/dev/null
    [[ -d "$root/var/lib/mysql/mysql" ]] || die "mariadb-install-db did not create the system tables"
  fi
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  log "importing $LAB_FULL_IMAGE"
  import_rootfs "$root" "$LAB_FULL_IMAGE"
  rm -rf "$root"
  trap - EXIT
  log "images built in $((SECONDS - t0)) s"
}

ensure_network() {
  local net subnet
  net="$(network_name "$1")"
  subnet="$(network_subnet "$1")"
  podman network exists "$net" && return 0
  if [[ "$1" == nat ]]; then
    podman network create --subnet "$subnet" "$net" >/dev/null
  else
    podman network create --internal --subnet "$subnet" "$net" >/dev/null
  fi
  log "created network $net ($subnet)"
}

host_ip() { # NET INDEX
  local subnet
  subnet="$(network_subnet "$1")"
  echo "${subnet%.*}.$((10 + $2))"
}

wait_ssh() { # IP; bounded: at most 120 s
  local ip="$1" deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    if ssh -q -i "$LAB_KEY" -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null "root@$ip" true 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  die "host $ip did not answer ssh within 120 s: see 'podman logs' of the host and 'podman network inspect'"
}

cmd_setup() {
  local t0=$SECONDS
  install_host_packages
  configure_podman
  create_venv
  install_get_pip_standin
  link_collection
  make_key
  build_images
  log "setup done in $((SECONDS - t0)) s"
}

cmd_up() { # NET N [PREFIX] [IMAGE: full|base]
  local netkey="$1" count="$2" prefix="${3:-$1}" which="${4:-full}" image i name ip t0=$SECONDS
  [[ "$count" =~ ^[0-9]+$ ]] && ((count >= 1 && count <= 40)) || die "host count must be 1..40, got '$count'"
  image="$LAB_FULL_IMAGE"
  [[ "$which" == base ]] && image="$LAB_BASE_IMAGE"
  make_key
  podman image exists "$image" || die "image $image is missing: run lab/lab.sh setup"
  ensure_network "$netkey"
  for ((i = 1; i <= count; i++)); do
    name="${prefix}-${i}"
    ip="$(host_ip "$netkey" "$i")"
    if [[ "$(podman container inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" == true ]]; then
      continue
    fi
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman run -d --name "$name" --hostname "$name" \
      --network "$(network_name "$netkey")" --ip "$ip" \
      --systemd=always --cap-add NET_ADMIN,NET_RAW,NET_BROADCAST \
      --label smooth.lab=1 \
      -v "${LAB_KEY}.pub:/root/.ssh/authorized_keys:ro" \
      "$image" /sbin/init >/dev/null
    log "started $name at $ip"
  done
  for ((i = 1; i <= count; i++)); do
    wait_ssh "$(host_ip "$netkey" "$i")"
  done
  log "$count host(s) on $(network_name "$netkey") answer ssh ($((SECONDS - t0)) s)"
}

cmd_down() { # NET [PREFIX]
  local netkey="$1" prefix="${2:-$1}" net names
  net="$(network_name "$netkey")"
  names="$(podman ps -a --filter label=smooth.lab=1 --format '{{.Names}}' | grep -E "^${prefix}-[0-9]+$" || true)"
  if [[ -n "$names" ]]; then
    # shellcheck disable=SC2086
    podman rm -f -t 2 $names >/dev/null
    log "removed $(echo $names)"
  fi
  if podman network exists "$net" &&
    [[ -z "$(podman ps -a --filter "network=$net" --format '{{.Names}}')" ]]; then
    podman network rm "$net" >/dev/null && log "removed network $net"
  fi
}

cmd_status() {
  podman ps -a --filter label=smooth.lab=1 --format '{{.Names}}\t{{.Status}}\t{{.Networks}}'
  podman network ls --format '{{.Name}}' | grep '^smooth-' || true
}

main() {
  [[ $EUID -eq 0 ]] || die "run as root (rootful podman, apt-get)"
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    setup) cmd_setup ;;
    image) build_images ;;
    venv) create_venv; link_collection ;;
    up) (($# >= 2)) || die "usage: lab/lab.sh up NET N [PREFIX] [full|base]"; cmd_up "$@" ;;
    down) (($# >= 1)) || die "usage: lab/lab.sh down NET [PREFIX]"; cmd_down "$@" ;;
    net) (($# == 1)) || die "usage: lab/lab.sh net NET"; ensure_network "$1" ;;
    status) cmd_status ;;
    key) make_key ;;
    *) sed -n '2,20p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
}

main "$@"

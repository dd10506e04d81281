/**
 * What runs inside a kernel VM: the initramfs's /init (busybox sh) and the guest sshd's config.
 * /init loads the kernel's own virtio/9p/overlay modules, mounts this machine's root read-only
 * over 9p under a RAM overlay, mounts the kernel file systems eBPF needs, gives the virtio NIC the
 * user-net address with no default route, and starts this machine's own sshd inside that root
 * with the VM's host key and authorized key. Pure text generation, so it can be read and tested.
 */
import { shellQuote } from '../transport';

/** QEMU user networking's guest address; hostfwd forwards 127.0.0.1:PORT to its port 22. */
export const GUEST_ADDRESS = '10.0.2.15/24';
export const HOST_ROOT_TAG = 'hostroot';
/** Where the guest finds its VM-specific files (inside its RAM overlay, never on the host). */
export const GUEST_STATE_DIR = '/run/ebpf-studio';

export interface GuestInitOptions {
  /** Module files in /modules of the initramfs, in load order. */
  moduleFiles: string[];
  hostname: string;
  kernelRelease: string;
  /** The kernel's modules directory as a path on this machine, which the guest sees at the same path. */
  hostModulesDir: string;
  /** Root's home directory (from this machine's passwd): its .bashrc is masked in the guest. */
  rootHome: string;
  sshdPath: string;
}

/** Printed on the console once sshd was started, so the console log shows how far boot got. */
export const READY_MARKER = 'ebpf-studio-guest: sshd started';

export function guestInitScript(o: GuestInitOptions): string {
  const q = shellQuote;
  return `#!/bin/busybox sh
# eBPF Studio kernel VM init (generated; see remote-agent/client/vm/guestInit.ts).
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "ebpf-studio-guest: $*"; }
fail() { say "FAILED: $*"; sleep 1; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in ${o.moduleFiles.map(q).join(' ')}; do
  insmod "/modules/$m" || fail "insmod $m"
done

mkdir -p /host /rw /newroot
# cache=loose: the guest caches what it read of the host (a cold 'python3 -c 1' 1.7 s instead of 6 s
# under emulation); a host file changed while the VM runs may be seen late.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose ${HOST_ROOT_TAG} /host || fail "mounting the host's root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "mounting the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "mounting the overlay"

R=/newroot
mount -t proc proc $R/proc || fail "mounting /proc"
mount -t sysfs sysfs $R/sys || fail "mounting /sys"
mount -t devtmpfs devtmpfs $R/dev || fail "mounting /dev"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts || fail "mounting /dev/pts"
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail "mounting /run"
# /tmp stays the overlay's (this machine's /tmp under the RAM layer, like every other path), so a
# program or uprobe target built under this machine's /tmp runs in the guest at the same path.
optional_mount() { mount -t "$1" "$1" "$R$2" || say "warning: could not mount $1 on $2"; }
optional_mount bpf /sys/fs/bpf
optional_mount tracefs /sys/kernel/tracing
optional_mount debugfs /sys/kernel/debug
optional_mount securityfs /sys/kernel/security
optional_mount cgroup2 /sys/fs/cgroup

# The kernel's own modules where modprobe looks for them, so on-demand loads (tc, veth…) work.
mkdir -p $R/lib/modules/${q(o.kernelRelease)}
# From /host, the 9p mount itself: the guest's own /tmp and /run would hide a cache kept there.
mount --bind /host${q(o.hostModulesDir)} $R/lib/modules/${q(o.kernelRelease)} || say "warning: the kernel's modules are not available to modprobe"
# The kernel loads a module on demand (a veth pair, a clsact qdisc, cls_bpf) by running
# /proc/sys/kernel/modprobe in its own root, this initramfs, which has no modules: point it at a
# modprobe that runs the guest's inside the new root.
{ printf '#!/bin/sh\\nexec chroot %s /sbin/modprobe "$@"\\n' "$R" > /sbin/guest-modprobe && chmod 755 /sbin/guest-modprobe &&
  echo /sbin/guest-modprobe > /proc/sys/kernel/modprobe; } || say "warning: modules will not load on demand"

hostname ${q(o.hostname)}
ip link set lo up || fail "bringing up lo"
nic=
for path in /sys/class/net/*; do
  name=\${path##*/}
  [ "$name" = lo ] || { nic=$name; break; }
done
[ -n "$nic" ] || fail "no network device (virtio_net)"
ip addr add ${GUEST_ADDRESS} dev "$nic" || fail "addressing $nic"
ip link set "$nic" up || fail "bringing up $nic"

mkdir -p $R${GUEST_STATE_DIR} $R/run/sshd
cp /vm/sshd_config /vm/authorized_keys /vm/ssh_host_ed25519_key $R${GUEST_STATE_DIR}/
chmod 600 $R${GUEST_STATE_DIR}/ssh_host_ed25519_key
# sshd without PAM refuses root when /etc/shadow locks it ('!', as where only sudo is used) or when
# it cannot read the file (QEMU run by a user): the guest gets its own, root without a password.
printf 'root:*:1:0:99999:7:::\\n' > $R${GUEST_STATE_DIR}/shadow
chmod 600 $R${GUEST_STATE_DIR}/shadow
mount --bind $R${GUEST_STATE_DIR}/shadow $R/etc/shadow || say "warning: /etc/shadow is this machine's; sshd may refuse a locked root"
# When QEMU runs as a user who cannot read root's home on this machine, the guest's root gets an
# empty one in RAM (sshd and the agent's cache need it).
home=$R${q(o.rootHome)}
ls -a "$home" >/dev/null 2>&1 || { mount -t tmpfs -o mode=0700 tmpfs "$home" && say "root's home is empty (this machine's is not readable by QEMU's user)"; }
# This machine's ~/.bashrc is not run for root in the guest (bash sources it for every ssh command).
printf '# eBPF Studio kernel VM: the host'"'"'s ~/.bashrc is not run here.\\n' > "$home/.bashrc" || say "warning: could not mask root's .bashrc"

chroot $R ${q(o.sshdPath)} -f ${GUEST_STATE_DIR}/sshd_config -E /dev/console || fail "starting sshd"
say "sshd started on $nic (kernel $(uname -r))"
while true; do sleep 60; done
`;
}

export function guestSshdConfig(): string {
  return `# eBPF Studio kernel VM sshd (generated; see remote-agent/client/vm/guestInit.ts)
Port 22
ListenAddress 0.0.0.0
HostKey ${GUEST_STATE_DIR}/ssh_host_ed25519_key
AuthorizedKeysFile ${GUEST_STATE_DIR}/authorized_keys
PidFile ${GUEST_STATE_DIR}/sshd.pid
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp internal-sftp
LogLevel ERROR
`;
}

/**
 * The QEMU command line of a kernel VM, as a pure function: direct kernel boot of the cached
 * kernel with the VM's initramfs, this machine's root shared read-only over 9p, user networking
 * restricted to one forwarded port on 127.0.0.1 (the guest reaches nothing else), serial console
 * to a log file, no display, daemonized with a pid file.
 */
import type { AcceleratorChoice } from './accelerator';
import { HOST_ROOT_TAG } from './guestInit';

export interface QemuOptions {
  name: string;
  kernel: string;
  initramfs: string;
  accelerator: AcceleratorChoice;
  sshPort: number;
  consoleLog: string;
  pidFile: string;
  memoryMiB?: number;
  cpus?: number;
}

export const QEMU_BINARY = 'qemu-system-x86_64';

export function qemuArguments(o: QemuOptions): string[] {
  // Emulated vCPUs share one host thread: with one thread per vCPU (QEMU's default), the kernel's
  // live code patching (int3 + text_poke_bp, on every static key flip) races between vCPUs, and
  // Debian's 7.3 kernel died booting in a CI run here with "Oops: int3" in sched_clock_cpu.
  const cpu = o.accelerator.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=single', '-cpu', 'max'];
  return [
    '-name', `ebpf-studio-${o.name}`,
    '-machine', 'q35',
    ...cpu,
    '-m', `${o.memoryMiB ?? 2048}`,
    '-smp', `${o.cpus ?? 2}`,
    '-kernel', o.kernel,
    '-initrd', o.initramfs,
    // panic=-1 reboots on a panic, and -no-reboot turns that into QEMU exiting: a failed boot ends.
    '-append', 'console=ttyS0 panic=-1 loglevel=4 net.ifnames=0',
    '-no-reboot',
    '-nodefaults',
    // -nographic cannot be combined with -daemonize; no display and the serial port to a file is the same.
    '-display', 'none',
    '-serial', `file:${o.consoleLog}`,
    '-netdev', `user,id=net0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-virtfs', `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
    '-device', 'virtio-rng-pci',
    '-pidfile', o.pidFile,
    '-daemonize',
  ];
}

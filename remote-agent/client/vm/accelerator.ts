/**
 * KVM or emulation. KVM only when the CPU really offers hardware virtualization (vmx/svm in
 * /proc/cpuinfo) and /dev/kvm is usable, and not when it is kvm_pvm's paravirtual nesting
 * (/sys/module/kvm_pvm): a stock Debian kernel hangs in its decompressor there. Otherwise QEMU's
 * TCG emulation with `-cpu max`, slower but it boots every kernel.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

export interface AcceleratorChoice {
  accel: 'kvm' | 'tcg';
  /** Why, in words for `vm start`'s output and logs. */
  reason: string;
}

export interface HostVirtualization {
  cpuinfo: string;
  kvmPvmLoaded: boolean;
  devKvmUsable: boolean;
}

export function chooseAccelerator(host: HostVirtualization): AcceleratorChoice {
  const flags = new Set(
    host.cpuinfo
      .split('\n')
      .filter((l) => /^flags\s*:/.test(l))
      .flatMap((l) => l.slice(l.indexOf(':') + 1).trim().split(/\s+/)),
  );
  const hardware = flags.has('vmx') ? 'vmx' : flags.has('svm') ? 'svm' : undefined;
  if (!hardware) return { accel: 'tcg', reason: 'the CPU shows no vmx/svm: emulating (TCG)' };
  if (host.kvmPvmLoaded) return { accel: 'tcg', reason: '/dev/kvm is kvm_pvm (paravirtual nesting), which Debian kernels cannot boot on: emulating (TCG)' };
  if (!host.devKvmUsable) return { accel: 'tcg', reason: `the CPU has ${hardware} but /dev/kvm is missing or not accessible: emulating (TCG)` };
  return { accel: 'kvm', reason: `KVM (${hardware})` };
}

export function readHostVirtualization(): HostVirtualization {
  let devKvmUsable = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    devKvmUsable = true;
  } catch {
    devKvmUsable = false;
  }
  return {
    cpuinfo: existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
    kvmPvmLoaded: existsSync('/sys/module/kvm_pvm'),
    devKvmUsable,
  };
}

/**
 * The pure parts of kernel VMs (remote-agent/client/vm/): which Debian package a kernel name
 * means (from apt's real answers), the mirror from this machine's sources, module load order from
 * real modules.dep lines, the initramfs archive and /init script (checked by busybox itself), the
 * KVM decision, QEMU's command line, the kernel cache's offline lookup and the VM state rules.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseAccelerator } from '../../remote-agent/client/vm/accelerator';
import { parseDeb822Sources, parseOneLineSources, pickDebianMirror, privateSourcesList } from '../../remote-agent/client/vm/aptSources';
import { kernelDirName, vmCachePaths } from '../../remote-agent/client/vm/cachePaths';
import { cpioArchive } from '../../remote-agent/client/vm/cpioArchive';
import { compareDebianVersions } from '../../remote-agent/client/vm/debianVersion';
import { guestInitScript, guestSshdConfig } from '../../remote-agent/client/vm/guestInit';
import { isStaticElf } from '../../remote-agent/client/vm/initramfs';
import { findCachedKernel } from '../../remote-agent/client/vm/kernelCache';
import { PrivateApt } from '../../remote-agent/client/vm/privateApt';
import { kernelRequest, newestCandidate, parseMadison, parsePkgnames, splitKernelParts } from '../../remote-agent/client/vm/kernelCatalog';
import { moduleLoadPlan, moduleName, parseModulesDep } from '../../remote-agent/client/vm/moduleDeps';
import { qemuArguments } from '../../remote-agent/client/vm/qemuCommand';
import { knownHostsLine } from '../../remote-agent/client/vm/sshKeys';
import { withStartLock } from '../../remote-agent/client/vm/startLock';
import { vmConnection } from '../../remote-agent/client/vm/vmManager';
import { checkVmName, isVmProcess } from '../../remote-agent/client/vm/vmState';

test('Debian version order: revisions, tildes before releases, epochs, letters', () => {
  const ascending = ['7.3~rc6-1~exp1', '7.3~rc7-1~exp1', '7.3-1', '7.3.1-1', '1:0.1-1'];
  for (let i = 0; i + 1 < ascending.length; i++) assert.ok(compareDebianVersions(ascending[i]!, ascending[i + 1]!) < 0, `${ascending[i]} < ${ascending[i + 1]}`);
  assert.ok(compareDebianVersions('6.1.176-1', '6.1.170-3') > 0);
  assert.ok(compareDebianVersions('6.12.107-1', '6.12.9-1') > 0, 'digit runs compare as numbers');
  assert.ok(compareDebianVersions('1.0~beta', '1.0') < 0);
  assert.ok(compareDebianVersions('1.0a', '1.0') > 0);
  assert.ok(compareDebianVersions('1.0a', '1.0+') < 0, 'letters before other characters');
  assert.equal(compareDebianVersions('2.36-9+deb12u14', '2.36-9+deb12u14'), 0);
});

// This machine's /etc/apt/sources.list.d/debian.sources, as the snapshot-pinned image ships it.
const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

test("the Debian mirror comes from this machine's apt sources, deb822 or one-line", () => {
  const entries = parseDeb822Sources(DEB822);
  assert.equal(entries.length, 2);
  assert.deepEqual(pickDebianMirror(entries), { uri: 'http://deb.debian.org/debian', signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' });

  const oneLine = parseOneLineSources(`# comment
deb http://security.debian.org/debian-security bookworm-security main
deb-src http://ftp.de.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://ftp.de.debian.org/debian/ bookworm main contrib
`);
  assert.deepEqual(pickDebianMirror(oneLine), { uri: 'http://ftp.de.debian.org/debian', signedBy: '/etc/apt/keyrings/x.gpg' });
  assert.equal(pickDebianMirror(parseDeb822Sources('Types: deb\nEnabled: no\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\n')), undefined);
  assert.equal(pickDebianMirror([]), undefined);

  assert.equal(
    privateSourcesList({ uri: 'http://deb.debian.org/debian' }, ['bookworm', 'experimental']),
    'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n' +
      'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian experimental main\n',
  );
});

// Real answers of apt-cache on the private lists (2026-11-29).
const PKGNAMES_61 = `linux-image-6.1.0-47-amd64
linux-image-6.1.0-47-amd64-dbg
linux-image-6.1.0-47-amd64-unsigned
linux-image-6.1.0-47-cloud-amd64
linux-image-6.1.0-47-rt-amd64
linux-image-6.1.0-50-amd64
linux-image-6.1.0-50-amd64-dbg
linux-image-6.1.0-50-amd64-unsigned
linux-image-6.1.0-50-arm64
`;
const MADISON = `linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.1.0-47-amd64 |  6.1.170-3 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-7.3-amd64 | 7.3~rc7-1~exp1 | http://deb.debian.org/debian experimental/main amd64 Packages
linux-image-7.2.13+deb14-amd64 |   7.2.13-1 | http://deb.debian.org/debian sid/main amd64 Packages
linux-image-6.12.107+deb13-amd64 | 6.12.107-1 | http://deb.debian.org/debian trixie/main amd64 Packages
`;
const SHOW_73 = `Package: linux-image-7.3-amd64
Source: linux-signed-amd64 (7.3~rc7+1~exp1)
Version: 7.3~rc7-1~exp1
Installed-Size: 15
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.3-amd64 (= 7.3~rc7-1~exp1), linux-binary-7.3-amd64 (= 7.3~rc7-1~exp1), linux-modules-7.3-amd64 (= 7.3~rc7-1~exp1)
Pre-Depends: linux-base (>= 4.17~)
Recommends: apparmor
`;
const SHOW_61 = `Package: linux-image-6.1.0-50-amd64
Version: 6.1.176-1
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Recommends: firmware-linux-free, apparmor
`;

test('kernel aliases resolve to the newest matching package of their suite, from apt-cache output', () => {
  const alias61 = kernelRequest('6.1').alias!;
  const names = parsePkgnames(PKGNAMES_61).filter((n) => alias61.pattern.test(n));
  assert.deepEqual(names, ['linux-image-6.1.0-47-amd64', 'linux-image-6.1.0-50-amd64'], 'no -dbg, -unsigned, cloud, rt or arm64 flavours');
  const rows = parseMadison(MADISON);
  assert.equal(rows.length, 5);
  assert.deepEqual(rows[2], { pkg: 'linux-image-7.3-amd64', version: '7.3~rc7-1~exp1', suite: 'experimental' });
  assert.deepEqual(newestCandidate(rows, (n) => alias61.pattern.test(n), alias61.suite), { pkg: 'linux-image-6.1.0-50-amd64', version: '6.1.176-1', suite: 'bookworm' });
  for (const [alias, pkg] of [['6.12', 'linux-image-6.12.107+deb13-amd64'], ['7.2', 'linux-image-7.2.13+deb14-amd64'], ['7.3', 'linux-image-7.3-amd64']] as const) {
    const a = kernelRequest(alias).alias!;
    assert.equal(newestCandidate(rows, (n) => a.pattern.test(n), a.suite)?.pkg, pkg, alias);
  }
  assert.equal(newestCandidate(rows, (n) => alias61.pattern.test(n), 'trixie'), undefined, 'the suite must match too');

  assert.deepEqual(kernelRequest('linux-image-6.1.0-47-amd64'), { name: 'linux-image-6.1.0-47-amd64' });
  assert.throws(() => kernelRequest('5.10'), /neither a kernel alias \(6\.1, 6\.12, 7\.2, 7\.3\) nor a Debian kernel package/);
  assert.throws(() => kernelRequest('bash'), /nor a Debian kernel package/);
});

test("a split kernel's parts come from its exact-version dependencies; a classic image has none", () => {
  assert.deepEqual(splitKernelParts(SHOW_73, '7.3~rc7-1~exp1'), ['linux-base-7.3-amd64', 'linux-binary-7.3-amd64', 'linux-modules-7.3-amd64']);
  assert.deepEqual(splitKernelParts(SHOW_73, '7.3~rc6-1~exp1'), [], 'another version’s parts are not this build');
  assert.deepEqual(splitKernelParts(SHOW_61, '6.1.176-1'), []);
});

// Lines of the modules.dep depmod writes for Debian's 6.1 and 7.3 packages.
const DEP_61 = `kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/overlayfs/overlay.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
`;
const DEP_73 = `kernel/fs/netfs/netfs.ko.xz:
kernel/fs/overlayfs/overlay.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz
kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz
kernel/net/core/failover.ko.xz:
kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
`;
const BUILTIN_73 = `kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko
kernel/drivers/virtio/virtio_pci.ko
`;
const REQUIRED = ['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'overlay'];

function assertDepsFirst(order: string[], index: ReturnType<typeof parseModulesDep>): void {
  const position = new Map(order.map((path, i) => [moduleName(path), i]));
  for (const path of order) {
    for (const dep of index.modules.get(moduleName(path))!.deps) {
      assert.ok(position.get(dep)! < position.get(moduleName(path))!, `${dep} loads before ${moduleName(path)}`);
    }
  }
}

test('modules load after what they depend on (virtio_ring before virtio_pci), each once', () => {
  assert.equal(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko.xz'), 'virtio_rng');
  const index = parseModulesDep(DEP_61);
  const plan = moduleLoadPlan(index, REQUIRED, ['virtio_rng', 'virtio_balloon']);
  assert.equal(plan.order.length, 15);
  assert.equal(new Set(plan.order).size, plan.order.length);
  assertDepsFirst(plan.order, index);
  assert.ok(plan.order.indexOf('kernel/drivers/virtio/virtio_ring.ko') < plan.order.indexOf('kernel/drivers/virtio/virtio_pci.ko'));
  assert.ok(plan.order.includes('kernel/drivers/char/hw_random/virtio-rng.ko'));
  assert.deepEqual(plan.absent, ['virtio_balloon']);
});

test('modules built into the kernel (7.3: virtio, virtio_pci) are not loaded; a missing required one is an error', () => {
  const index = parseModulesDep(DEP_73, BUILTIN_73);
  const plan = moduleLoadPlan(index, REQUIRED);
  assert.deepEqual(plan.builtin, ['virtio_pci']);
  assertDepsFirst(plan.order, index);
  assert.deepEqual(plan.order.map(moduleName), ['failover', 'net_failover', 'virtio_net', 'netfs', '9pnet', '9pnet_virtio', '9p', 'overlay']);
  assert.throws(() => moduleLoadPlan(parseModulesDep(DEP_73), REQUIRED), /no 'virtio_pci' module, built in or loadable/);
  assert.throws(() => moduleLoadPlan(parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n'), ['a']), /dependency cycle: a → b → a/);
});

test('the initramfs archive is newc cpio that busybox cpio lists, device nodes and modes included', () => {
  const archive = cpioArchive([
    { kind: 'dir', path: 'dev' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    { kind: 'symlink', path: 'sh', target: 'busybox' },
    { kind: 'file', path: 'odd', data: Buffer.from('abc') },
  ]);
  assert.equal(archive.length % 4, 0);
  const listing = execFileSync('busybox', ['cpio', '-tv'], { input: archive, encoding: 'utf8' });
  const lines = listing.trim().split('\n');
  assert.equal(lines.length, 5, listing);
  assert.match(lines[0]!, /^drwxr-xr-x .* dev$/);
  assert.match(lines[1]!, /^crw------- .*dev\/console$/);
  assert.match(lines[2]!, /^-rwxr-xr-x .* 10 .* init$/);
  assert.match(lines[3]!, /^lrwxrwxrwx .* sh -> busybox$/);
  assert.match(lines[4]!, /^-rw-r--r-- .* 3 .* odd$/);
  const dir = mkdtempSync(join(tmpdir(), 'cpio-'));
  execFileSync('busybox', ['cpio', '-i', 'odd', 'init'], { input: archive, cwd: dir });
  assert.equal(readFileSync(join(dir, 'odd'), 'utf8'), 'abc');
});

test('the guest /init is valid sh, loads modules in order, adds no default route, masks root’s .bashrc', () => {
  const script = guestInitScript({
    moduleFiles: ['00-virtio_ring.ko', '01-virtio.ko'],
    hostname: 'ebpf-vm-6-1',
    kernelRelease: '6.1.0-50-amd64',
    hostModulesDir: "/root/.cache/ebpf-studio/kernels/linux-image-7.3-amd64_7.3~rc7-1~exp1/usr/lib/modules/7.3-amd64",
    rootHome: '/root',
    sshdPath: '/usr/sbin/sshd',
  });
  const dir = mkdtempSync(join(tmpdir(), 'init-'));
  writeFileSync(join(dir, 'init'), script);
  execFileSync('busybox', ['sh', '-n', join(dir, 'init')]);
  assert.match(script, /for m in '00-virtio_ring\.ko' '01-virtio\.ko'; do/);
  assert.match(script, /ip addr add 10\.0\.2\.15\/24/);
  assert.doesNotMatch(script, /default|route add/);
  assert.match(script, /^home=\$R'\/root'$/m);
  assert.match(script, /> "\$home\/\.bashrc"/);
  assert.match(script, /mount --bind \/host'\/root\/\.cache\/ebpf-studio\/kernels\/linux-image-7\.3-amd64_7\.3~rc7-1~exp1\/usr\/lib\/modules\/7\.3-amd64' /);
  assert.match(script, /mount -t 9p -o trans=virtio,version=9p2000\.L,ro/);
  assert.match(script, /exec chroot %s \/sbin\/modprobe "\$@"\\n' "\$R" > \/sbin\/guest-modprobe/, 'on-demand module loads run modprobe in the guest root');
  assert.match(script, /echo \/sbin\/guest-modprobe > \/proc\/sys\/kernel\/modprobe/);
  for (const fs of ['bpf', 'tracefs', 'debugfs', 'securityfs']) assert.match(script, new RegExp(`optional_mount ${fs} `));
  const sshd = guestSshdConfig();
  assert.match(sshd, /^PasswordAuthentication no$/m);
  assert.match(sshd, /^PermitRootLogin prohibit-password$/m);
  assert.match(sshd, /^AllowUsers root$/m);
  assert.match(script, /mount --bind \$R\/run\/ebpf-studio\/shadow \$R\/etc\/shadow/, 'a locked or unreadable root in /etc/shadow must not stop key login');
  assert.match(sshd, /^AuthorizedKeysFile \/run\/ebpf-studio\/authorized_keys$/m);
});

test('KVM only with vmx/svm, a usable /dev/kvm and no kvm_pvm; TCG otherwise', () => {
  const intel = 'processor\t: 0\nflags\t\t: fpu vme de pse vmx ssse3\n';
  const amd = 'processor\t: 0\nflags\t\t: fpu svm sse4a\n';
  const none = 'processor\t: 0\nflags\t\t: fpu vme hypervisor\n';
  assert.equal(chooseAccelerator({ cpuinfo: intel, kvmPvmLoaded: false, devKvmUsable: true }).accel, 'kvm');
  assert.equal(chooseAccelerator({ cpuinfo: amd, kvmPvmLoaded: false, devKvmUsable: true }).accel, 'kvm');
  const pvm = chooseAccelerator({ cpuinfo: intel, kvmPvmLoaded: true, devKvmUsable: true });
  assert.equal(pvm.accel, 'tcg');
  assert.match(pvm.reason, /kvm_pvm/);
  assert.equal(chooseAccelerator({ cpuinfo: none, kvmPvmLoaded: false, devKvmUsable: true }).accel, 'tcg', 'this machine: /dev/kvm but no vmx/svm');
  assert.equal(chooseAccelerator({ cpuinfo: intel, kvmPvmLoaded: false, devKvmUsable: false }).accel, 'tcg');
});

test("QEMU's command line: restricted user net forwarding only loopback, read-only 9p root, daemonized", () => {
  const args = qemuArguments({
    name: '6.1',
    kernel: '/k/vmlinuz',
    initramfs: '/s/initramfs.cpio.gz',
    accelerator: { accel: 'tcg', reason: '' },
    sshPort: 40222,
    consoleLog: '/s/console.log',
    pidFile: '/s/qemu.pid',
  });
  const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
  assert.equal(value('-name'), 'ebpf-studio-6.1');
  assert.equal(value('-netdev'), 'user,id=net0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:40222-:22');
  assert.equal(value('-virtfs'), 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap');
  assert.equal(value('-accel'), 'tcg,thread=single', 'one host thread for the vCPUs: cross-vCPU code patching is exact');
  assert.equal(value('-cpu'), 'max');
  assert.equal(value('-serial'), 'file:/s/console.log');
  assert.equal(value('-smp'), '2');
  assert.ok(args.includes('-daemonize') && args.includes('-no-reboot'));
  const kvm = qemuArguments({ name: 'x', kernel: 'k', initramfs: 'i', accelerator: { accel: 'kvm', reason: '' }, sshPort: 1, consoleLog: 'c', pidFile: 'p', memoryMiB: 1024 });
  assert.equal(kvm[kvm.indexOf('-accel') + 1], 'kvm');
  assert.equal(kvm[kvm.indexOf('-m') + 1], '1024');
});

test('a cached kernel is found without apt: the newest of an alias, or by package name', () => {
  const paths = vmCachePaths(mkdtempSync(join(tmpdir(), 'vm-cache-')));
  const put = (pkg: string, version: string, suite: string, packages = [pkg]): void => {
    const dir = join(paths.kernels, kernelDirName(pkg, version));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'kernel.json'), JSON.stringify({ package: pkg, version, suite, packages, kernelRelease: pkg.replace(/^linux-image-/, ''), vmlinuz: 'boot/vmlinuz', modulesDir: 'lib/modules/x' }));
  };
  put('linux-image-6.1.0-47-amd64', '6.1.170-3', 'bookworm');
  put('linux-image-6.1.0-50-amd64', '6.1.176-1', 'bookworm');
  put('linux-image-7.3-amd64', '7.3~rc7-1~exp1', 'experimental', ['linux-image-7.3-amd64', 'linux-binary-7.3-amd64', 'linux-modules-7.3-amd64']);
  mkdirSync(join(paths.kernels, '.download-abc', 'boot'), { recursive: true }); // an interrupted download
  const k61 = findCachedKernel(paths, kernelRequest('6.1'))!;
  assert.equal(k61.version, '6.1.176-1');
  assert.equal(k61.vmlinuz, join(paths.kernels, 'linux-image-6.1.0-50-amd64_6.1.176-1', 'boot/vmlinuz'));
  assert.equal(findCachedKernel(paths, kernelRequest('linux-image-6.1.0-47-amd64'))?.version, '6.1.170-3');
  assert.equal(findCachedKernel(paths, kernelRequest('linux-binary-7.3-amd64'))?.package, 'linux-image-7.3-amd64');
  assert.equal(findCachedKernel(paths, kernelRequest('7.3'))?.kernelRelease, '7.3-amd64');
  assert.equal(findCachedKernel(paths, kernelRequest('6.12')), undefined);
  assert.equal(kernelDirName('p', '1:2.0-1'), 'p_1%3a2.0-1');
});

test('VM names, process identity, known_hosts line, and the error for a VM that is not running', () => {
  assert.equal(checkVmName('6.1'), '6.1');
  assert.throws(() => checkVmName('../x'), /not a valid VM name/);
  assert.throws(() => checkVmName('-x'), /not a valid VM name/);
  assert.equal(isVmProcess(process.pid, '6.1'), false, 'a live process that is not QEMU for this VM');
  assert.equal(isVmProcess(2 ** 22 + 1, '6.1'), false, 'no such process');
  assert.equal(knownHostsLine(40222, 'ssh-ed25519 AAAAC3Nza key-comment'), '[127.0.0.1]:40222 ssh-ed25519 AAAAC3Nza\n');
  const paths = vmCachePaths(mkdtempSync(join(tmpdir(), 'vm-state-')));
  assert.throws(() => vmConnection('6.1', paths), /no kernel VM named '6\.1': start it with 'ebpf-studio vm start 6\.1'/);
  const dir = join(paths.vms, 'old');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vm.json'), JSON.stringify({ name: 'old', requested: '7.3', kernelRelease: '7.3-amd64', port: 1 }));
  writeFileSync(join(dir, 'qemu.pid'), `${process.pid}\n`);
  assert.throws(() => vmConnection('old', paths), /'old' is not running: start it with 'ebpf-studio vm start 7\.3 --name old'/);
});

test('a static busybox is told from a dynamic program by its missing ELF interpreter', () => {
  assert.equal(isStaticElf(readFileSync('/bin/busybox')), true);
  assert.equal(isStaticElf(readFileSync(process.execPath)), false);
  assert.equal(isStaticElf(Buffer.from('#!/bin/sh\n')), false);
});

test('starts of one VM name take turns; a dead holder’s lock is taken over; waiting can be aborted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vm-lock-'));
  const lock = join(dir, '.6.1.lock');
  const events: string[] = [];
  const slow = (tag: string) => async (): Promise<string> => {
    events.push(`${tag} in`);
    await new Promise((r) => setTimeout(r, 50));
    events.push(`${tag} out`);
    return tag;
  };
  assert.deepEqual(await Promise.all([withStartLock(lock, slow('a')), withStartLock(lock, slow('b'))]), ['a', 'b']);
  assert.deepEqual(events, ['a in', 'a out', 'b in', 'b out']);

  writeFileSync(lock, `${2 ** 22 + 1}\n`); // a pid that cannot exist
  assert.equal(await withStartLock(lock, async () => 'took over'), 'took over');

  writeFileSync(lock, `${process.pid}\n`); // held by a live process
  const abort = new AbortController();
  let waited = false;
  const pending = withStartLock(lock, async () => 'never', abort.signal, () => (waited = true));
  setTimeout(() => abort.abort(new Error('stop waiting')), 100);
  await assert.rejects(pending, /stop waiting/);
  assert.equal(waited, true);
});

test('a package list update that finds the lists locked by another of ours waits, and takes the lists that one fetched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'private-apt-lock-'));
  // A mirror nothing answers on: fetching by itself would fail, so passing means it used the other's lists.
  const apt = new PrivateApt(dir, { uri: 'http://127.0.0.1:9/debian' }, ['bookworm']);
  mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
  // The other apt-get: apt's own lock (a POSIX record lock on lists/lock) for a second, then fresh lists.
  const holder = spawn('python3', [
    '-c',
    'import fcntl, sys, time\nf = open(sys.argv[1], "w")\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(1)\nopen(sys.argv[2], "w").write("fetched by the other\\n")',
    join(dir, 'lists', 'lock'),
    join(dir, 'lists-updated'),
  ]);
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  await apt.update();
  await exited;
  assert.equal(readFileSync(join(dir, 'lists-updated'), 'utf8'), 'fetched by the other\n');
  assert.equal(apt.listsFresh(), true);
});

test('a package list update that finds the lists locked for longer than it waits says what holds them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'private-apt-lock-'));
  const apt = new PrivateApt(dir, { uri: 'http://127.0.0.1:9/debian' }, ['bookworm']);
  mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
  const holder = spawn('python3', ['-c', 'import fcntl, sys, time\nf = open(sys.argv[1], "w")\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(5)', join(dir, 'lists', 'lock')]);
  try {
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    await assert.rejects(apt.update(undefined, 1000), /^HostToolError: Fetching Debian's package lists \(bookworm\): apt-get failed \(exit status 100\):\n.*Could not get lock .*lists\/lock\. It is held by process \d+/s);
  } finally {
    holder.kill();
  }
});

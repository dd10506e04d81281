/**
 * A writer for the "newc" cpio format the kernel unpacks as an initramfs: directories, regular
 * files, symlinks and device nodes, all owned by root, built in memory. Writing the archive
 * ourselves needs no root (device nodes are just headers) and no cpio tool on the host.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function record(name: string, mode: number, data: Buffer, ino: number, rdev: { major: number; minor: number } = { major: 0, minor: 0 }, nlink = 1): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' +
      hex8(ino) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(0) + // mtime: fixed, so equal inputs give equal archives
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(rdev.major) +
      hex8(rdev.minor) +
      hex8(nameBytes.length) +
      hex8(0), // check
    'ascii',
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/** The archive bytes; paths are relative (`init`, `bin/busybox`), parents must come first. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        parts.push(...record(path, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), ino++, undefined, 2));
        break;
      case 'file':
        parts.push(...record(path, S_IFREG | (e.mode ?? 0o644), e.data, ino++));
        break;
      case 'symlink':
        parts.push(...record(path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), ino++));
        break;
      case 'chardev':
        parts.push(...record(path, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), ino++, { major: e.major, minor: e.minor }));
        break;
    }
  }
  parts.push(...record('TRAILER!!!', 0, Buffer.alloc(0), 0, undefined, 1));
  return Buffer.concat(parts);
}

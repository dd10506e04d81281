// BTF-defined maps (`struct { __uint(type, …); … } name SEC(".maps");`): the map types, the keys a
// definition may use, and what each map type needs — our own summary of the kernel's map_alloc_check
// rules and libbpf's BTF map parsing. Completion, hover and the map checks read it.

export type Requirement = 'required' | 'optional' | 'forbidden';

export interface MapTypeInfo {
  /** `BPF_MAP_TYPE_HASH`. */
  name: string;
  summary: string;
  key: Requirement;
  value: Requirement;
  /** 'zero' for local storage maps, whose size follows their owners. */
  maxEntries: Requirement | 'zero';
  /** A map_flags value the kernel insists on, e.g. BPF_F_NO_PREALLOC. */
  requiredFlags?: string;
  /** Notes on sizes and constraints. */
  notes?: string;
}

function map(name: string, summary: string, key: Requirement, value: Requirement, maxEntries: MapTypeInfo['maxEntries'], extra: Partial<MapTypeInfo> = {}): MapTypeInfo {
  return { name: `BPF_MAP_TYPE_${name}`, summary, key, value, maxEntries, ...extra };
}

const STORAGE_NOTE = 'Storage lives with its owner object; max_entries must be 0 and map_flags BPF_F_NO_PREALLOC; the key is an int (fd).';

export const mapTypes: readonly MapTypeInfo[] = [
  map('HASH', 'Hash table: key → value, preallocated unless BPF_F_NO_PREALLOC.', 'required', 'required', 'required'),
  map('ARRAY', 'Array indexed by a __u32 key, all entries exist and start zeroed.', 'required', 'required', 'required', { notes: 'The key must be 4 bytes (__u32).' }),
  map('PROG_ARRAY', 'Program array for bpf_tail_call.', 'optional', 'optional', 'required', { notes: 'key and value are 4 bytes; `__array(values, int (void *))` lets libbpf fill it.' }),
  map('PERF_EVENT_ARRAY', 'Per-CPU perf buffers for bpf_perf_event_output.', 'optional', 'optional', 'optional', { notes: 'key_size and value_size are 4; max_entries defaults to the number of CPUs.' }),
  map('PERCPU_HASH', 'Hash table with one value per CPU.', 'required', 'required', 'required'),
  map('PERCPU_ARRAY', 'Array with one value per CPU (scratch space, counters without atomics).', 'required', 'required', 'required', { notes: 'The key must be 4 bytes (__u32).' }),
  map('STACK_TRACE', 'Stack traces for bpf_get_stackid.', 'required', 'optional', 'required', { notes: 'key is __u32; value_size is a multiple of 8 (the stack depth × 8).' }),
  map('CGROUP_ARRAY', 'cgroup fds for bpf_skb_under_cgroup / bpf_current_task_under_cgroup.', 'required', 'required', 'required'),
  map('LRU_HASH', 'Hash table that evicts the least recently used entries when full.', 'required', 'required', 'required'),
  map('LRU_PERCPU_HASH', 'LRU hash with one value per CPU.', 'required', 'required', 'required'),
  map('LPM_TRIE', 'Longest-prefix-match trie (IP routing lookups).', 'required', 'required', 'required', { requiredFlags: 'BPF_F_NO_PREALLOC', notes: 'The key starts with a __u32 prefix length.' }),
  map('ARRAY_OF_MAPS', 'Array whose values are maps (map-in-map).', 'required', 'optional', 'required', { notes: 'Declare the inner map with `__array(values, struct inner_map)`.' }),
  map('HASH_OF_MAPS', 'Hash whose values are maps (map-in-map).', 'required', 'optional', 'required', { notes: 'Declare the inner map with `__array(values, struct inner_map)`.' }),
  map('DEVMAP', 'Network devices for bpf_redirect_map from XDP.', 'required', 'required', 'required'),
  map('SOCKMAP', 'Sockets for sk_skb/sk_msg redirection.', 'required', 'required', 'required'),
  map('CPUMAP', 'CPUs for bpf_redirect_map from XDP.', 'required', 'required', 'required'),
  map('XSKMAP', 'AF_XDP sockets for bpf_redirect_map from XDP.', 'required', 'required', 'required'),
  map('SOCKHASH', 'Sockets by key for sk_skb/sk_msg redirection.', 'required', 'required', 'required'),
  map('CGROUP_STORAGE', 'Per-cgroup storage of cgroup programs (legacy: prefer CGRP_STORAGE).', 'required', 'required', 'zero'),
  map('REUSEPORT_SOCKARRAY', 'Sockets for bpf_sk_select_reuseport.', 'required', 'required', 'required'),
  map('PERCPU_CGROUP_STORAGE', 'Per-CPU per-cgroup storage (legacy).', 'required', 'required', 'zero'),
  map('QUEUE', 'FIFO queue (bpf_map_push_elem / bpf_map_pop_elem).', 'forbidden', 'required', 'required'),
  map('STACK', 'LIFO stack (bpf_map_push_elem / bpf_map_pop_elem).', 'forbidden', 'required', 'required'),
  map('SK_STORAGE', 'Storage attached to sockets (bpf_sk_storage_get).', 'required', 'required', 'zero', { requiredFlags: 'BPF_F_NO_PREALLOC', notes: STORAGE_NOTE }),
  map('DEVMAP_HASH', 'Network devices by key for bpf_redirect_map.', 'required', 'required', 'required'),
  map('STRUCT_OPS', 'Implementation of a kernel struct_ops (declared with SEC(".struct_ops.link")).', 'optional', 'optional', 'optional'),
  map('RINGBUF', 'Ring buffer shared by all CPUs (bpf_ringbuf_reserve/submit/output), ordered events.', 'forbidden', 'forbidden', 'required', {
    notes: 'max_entries is the size in bytes: a power of 2 and a multiple of the page size (e.g. 256 * 1024).',
  }),
  map('INODE_STORAGE', 'Storage attached to inodes (bpf_inode_storage_get, LSM).', 'required', 'required', 'zero', { requiredFlags: 'BPF_F_NO_PREALLOC', notes: STORAGE_NOTE }),
  map('TASK_STORAGE', 'Storage attached to tasks (bpf_task_storage_get).', 'required', 'required', 'zero', { requiredFlags: 'BPF_F_NO_PREALLOC', notes: STORAGE_NOTE }),
  map('BLOOM_FILTER', 'Bloom filter (bpf_map_push_elem to add, bpf_map_peek_elem to test).', 'forbidden', 'required', 'required', { notes: 'map_extra sets the number of hash functions (1–15, default 5).' }),
  map('USER_RINGBUF', 'Ring buffer written by user space, drained with bpf_user_ringbuf_drain.', 'forbidden', 'forbidden', 'required', {
    notes: 'max_entries is the size in bytes: a power of 2 and a multiple of the page size.',
  }),
  map('CGRP_STORAGE', 'Storage attached to cgroups (bpf_cgrp_storage_get), Linux 6.2+.', 'required', 'required', 'zero', { requiredFlags: 'BPF_F_NO_PREALLOC', notes: STORAGE_NOTE }),
  map('ARENA', 'Memory shared between BPF and user space (Linux 6.9+).', 'forbidden', 'forbidden', 'required', { requiredFlags: 'BPF_F_MMAPABLE', notes: 'max_entries is the number of pages.' }),
];

const mapTypesByName = new Map(mapTypes.map((t) => [t.name, t]));

export function findMapType(name: string): MapTypeInfo | undefined {
  return mapTypesByName.get(name);
}

export interface MapDefinitionKey {
  /** The field name inside __uint/__type/__array. */
  name: string;
  /** The macro that declares it. */
  macro: '__uint' | '__type' | '__array' | '__ulong';
  /** Inserted text, `__uint(max_entries, )`. */
  example: string;
  description: string;
}

export const mapDefinitionKeys: readonly MapDefinitionKey[] = [
  { name: 'type', macro: '__uint', example: '__uint(type, BPF_MAP_TYPE_HASH);', description: 'The map type (BPF_MAP_TYPE_*). Required.' },
  { name: 'max_entries', macro: '__uint', example: '__uint(max_entries, 1024);', description: 'Maximum number of entries (ring buffers: the size in bytes).' },
  { name: 'key', macro: '__type', example: '__type(key, __u32);', description: 'The key type; libbpf records it in BTF so tools can print keys.' },
  { name: 'value', macro: '__type', example: '__type(value, __u64);', description: 'The value type; libbpf records it in BTF so tools can print values.' },
  { name: 'key_size', macro: '__uint', example: '__uint(key_size, sizeof(__u32));', description: 'Key size in bytes, when no key type is given (prog/perf event arrays).' },
  { name: 'value_size', macro: '__uint', example: '__uint(value_size, sizeof(__u32));', description: 'Value size in bytes, when no value type is given.' },
  { name: 'map_flags', macro: '__uint', example: '__uint(map_flags, BPF_F_NO_PREALLOC);', description: 'BPF_F_* creation flags (BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_MMAPABLE …).' },
  { name: 'pinning', macro: '__uint', example: '__uint(pinning, LIBBPF_PIN_BY_NAME);', description: 'LIBBPF_PIN_BY_NAME: pin under /sys/fs/bpf (or the pin_root_path) and reuse an existing pin.' },
  { name: 'numa_node', macro: '__uint', example: '__uint(numa_node, 0);', description: 'NUMA node to allocate on (with BPF_F_NUMA_NODE).' },
  { name: 'map_extra', macro: '__uint', example: '__uint(map_extra, 3);', description: 'Type-specific: number of hash functions of a bloom filter; user address of an arena.' },
  { name: 'values', macro: '__array', example: '__array(values, struct inner_map);', description: 'Map-in-map inner map definition, or `int (void *)` for a prog array libbpf fills.' },
];

/** `__u32` → 4 bytes: the sizes of the C types a map key or value is usually written with. */
export const primitiveSizes: Record<string, number> = {
  char: 1, 'signed char': 1, 'unsigned char': 1, __u8: 1, __s8: 1, u8: 1, s8: 1, bool: 1, _Bool: 1,
  short: 2, 'unsigned short': 2, __u16: 2, __s16: 2, u16: 2, s16: 2, __be16: 2, __le16: 2,
  int: 4, 'unsigned int': 4, unsigned: 4, __u32: 4, __s32: 4, u32: 4, s32: 4, __be32: 4, __le32: 4, float: 4, pid_t: 4,
  long: 8, 'unsigned long': 8, 'long long': 8, 'unsigned long long': 8, __u64: 8, __s64: 8, u64: 8, s64: 8, __be64: 8, __le64: 8,
  double: 8, size_t: 8,
};

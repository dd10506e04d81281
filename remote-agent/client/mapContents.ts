/**
 * The contents of a running object's maps as plain JSON: each map's entries read with `map.dump`
 * (page by page, at most a bounded number, with a flag when there were more) and their keys and
 * values decoded with the object's BTF, as the editor's Maps view shows them. For callers that
 * hand map contents on as data (the MCP server's `map_dump` and `run`): integers beyond 2^53
 * become decimal strings, bytes BTF does not describe become hex.
 */
import { AgentLimits, type AgentRequester, type MapInfo } from '../protocol';
import { HexBytes, type DecodedValue, type RecordDecoder } from './eventDecoder';

/** Map types whose records are streamed as events, not stored: nothing to dump. */
const STREAMED_MAP_TYPES = new Set(['ringbuf', 'user_ringbuf', 'perf_event_array']);
/** libbpf's internal maps of a file's global variables (`.rodata`, `.bss`, …): not entries a program keeps. */
const GLOBALS_MAP = /\.(rodata|data|bss|kconfig)(\.|$)/;

export interface MapContents {
  name: string;
  /** libbpf's name of the type, e.g. "hash", "percpu_array". */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** `value` for most maps; `values`, one per possible CPU, for per-CPU maps. */
  entries: { key: unknown; value?: unknown; values?: unknown[] }[];
  /** The map held more entries than were read. */
  truncated: boolean;
  /** Why the map could not be read, when it could not. */
  error?: string;
}

/** What decodes an object's keys and values: its BTF type ids' decoders (ProgramRun.valueDecoder). */
export interface ObjectValueDecoders {
  valueDecoder(typeId: number): RecordDecoder;
}

/**
 * The maps of the loaded object @objectId that hold entries (neither streamed buffers nor global
 * variables), or those named in @o.names, each with at most @o.maxEntries entries.
 */
export async function readMapContents(
  agent: AgentRequester<'object.maps' | 'map.dump'>,
  objectId: string,
  decoders: ObjectValueDecoders,
  o: { maxEntries: number; names?: readonly string[]; signal?: AbortSignal },
): Promise<MapContents[]> {
  const { maps } = await agent.request('object.maps', { objectId }, o.signal);
  const unknown = (o.names ?? []).filter((name) => !maps.some((m) => m.name === name));
  if (unknown.length > 0) throw new Error(`The object has no map ${unknown.join(', ')}; its maps: ${maps.map((m) => m.name).join(', ')}`);
  const wanted = o.names ? maps.filter((m) => o.names!.includes(m.name)) : maps.filter((m) => !STREAMED_MAP_TYPES.has(m.type) && !GLOBALS_MAP.test(m.name));
  const contents: MapContents[] = [];
  for (const map of wanted) contents.push(await readMap(agent, objectId, decoders, map, o.maxEntries, o.signal));
  return contents;
}

async function readMap(agent: AgentRequester<'map.dump'>, objectId: string, decoders: ObjectValueDecoders, map: MapInfo, maxEntries: number, signal: AbortSignal | undefined): Promise<MapContents> {
  const out: MapContents = { name: map.name, type: map.type, keySize: map.keySize, valueSize: map.valueSize, maxEntries: map.maxEntries, entries: [], truncated: false };
  if (STREAMED_MAP_TYPES.has(map.type)) {
    out.error = `a ${map.type} map streams its records (run returns them as events); it has no entries to read`;
    return out;
  }
  const key = decoders.valueDecoder(map.btfKeyTypeId);
  const value = decoders.valueDecoder(map.btfValueTypeId);
  const perCpu = map.type.startsWith('percpu_') || map.type.startsWith('lru_percpu_');
  try {
    let cursor: string | undefined;
    for (;;) {
      // One entry more than still wanted tells whether there were more than maxEntries.
      const limit = Math.min(AgentLimits.mapDumpMaxLimit, maxEntries - out.entries.length + 1);
      const page = await agent.request('map.dump', { objectId, map: map.name, limit, ...(cursor !== undefined && { cursor }) }, signal);
      for (const entry of page.entries) {
        if (out.entries.length === maxEntries) {
          out.truncated = true;
          break;
        }
        const values = entry.values.map((v) => decoded(value, v));
        out.entries.push({ key: decoded(key, entry.key), ...(perCpu ? { values } : { value: values[0] }) });
      }
      if (out.truncated || page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    out.error = error instanceof Error ? error.message : String(error);
  }
  return out;
}

/** @base64 decoded as its BTF type says, or its bytes as hex when the type does not describe them. */
function decoded(decoder: RecordDecoder, base64: string): unknown {
  const bytes = Buffer.from(base64, 'base64');
  try {
    return plainJson(decoder.decode(bytes, 0, bytes.length));
  } catch {
    return bytes.toString('hex');
  }
}

/** A decoded value as plain JSON: 64-bit integers beyond 2^53 as decimal strings, bytes as hex. */
export function plainJson(value: DecodedValue): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof HexBytes) return value.hex;
  if (Array.isArray(value)) return value.map(plainJson);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainJson(v)]));
  return value;
}

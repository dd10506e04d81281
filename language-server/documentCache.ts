// What the server derives from an open document's text (its model, its declared types), computed
// once per document version and kept per document: a new version replaces the old results, and
// closing the document drops them, so the cache holds the open documents and nothing else.

/** The document as the cache sees it: `TextDocument` or anything shaped like it. */
export interface VersionedText {
  uri: string;
  version: number;
  getText(): string;
}

/** Per document URI, its version and what was computed from that version, keyed by the computing function. */
const entries = new Map<string, { version: number; results: Map<(text: string) => unknown, unknown> }>();

/** `compute(text)` for this version of the document, computed on first use. */
export function derived<T>(document: VersionedText, compute: (text: string) => T): T {
  let entry = entries.get(document.uri);
  if (entry === undefined || entry.version !== document.version) {
    entry = { version: document.version, results: new Map() };
    entries.set(document.uri, entry);
  }
  if (!entry.results.has(compute)) entry.results.set(compute, compute(document.getText()));
  return entry.results.get(compute) as T;
}

/** Drops everything computed from a document: it was closed. */
export function forgetDocument(uri: string): void {
  entries.delete(uri);
}

/** The URIs the cache holds results for. */
export function cachedDocuments(): string[] {
  return [...entries.keys()];
}

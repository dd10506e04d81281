/**
 * Where the repository's docs/ are published, for links read outside the repository: SARIF rule
 * help, the editor's diagnostics. The language server links docs/diagnostics.md on the same base.
 */
export const DOCS_BASE_URL = 'https://github.com/ebpf-studio/ebpf-studio/blob/main/';

/** `docs/verifier-errors.md#nullable-map-value` → its published URL. */
export function docsUrl(repositoryPath: string): string {
  return `${DOCS_BASE_URL}${repositoryPath}`;
}

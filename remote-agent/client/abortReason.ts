/**
 * The error an aborted operation rejects with: the signal's own reason when it is an Error (a
 * DOMException named 'AbortError' for a plain `controller.abort()`), so callers can tell a
 * cancellation from a failure by `error.name === 'AbortError'`.
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(reason === undefined ? 'The operation was aborted' : String(reason), 'AbortError');
}

/** Rejects with the abort reason when `signal` is already aborted (AbortSignal.throwIfAborted with our reason rule). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

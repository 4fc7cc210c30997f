// Errors as text for logs and events: the message only (never a stack or
// the object that failed), cut short so a huge response body cannot flood a log.

/** An error's message without request bodies or headers (they could hold secrets). */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  if (typeof error === 'object' && error !== null && 'message' in error)
    return String((error as { message: unknown }).message).slice(0, 300);
  return String(error).slice(0, 300);
}

// The one error type of an API server's answer (kube/rest.ts throws it, the
// layers below decide on its status code), and errors as text for logs and
// events: the message only (never a stack or the object that failed), cut
// short so a huge response body cannot flood a log.

/** An API server refused or failed a request: its HTTP status and the Status reason. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 404;
export const isConflict = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 409;
export const isAlreadyExists = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 409 && error.reason === 'AlreadyExists';

/** An error's message without request bodies or headers (they could hold secrets). */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  if (typeof error === 'object' && error !== null && 'message' in error)
    return String((error as { message: unknown }).message).slice(0, 300);
  return String(error).slice(0, 300);
}

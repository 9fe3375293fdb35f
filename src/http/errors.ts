/**
 * The one place that maps domain error codes to HTTP statuses, and the one shape of every error
 * body: `{"success": false, "message": "...", "code": "..."}` (Slicer clients read `success` and
 * `message`; `code` is for programs).
 */
import { AppError, isAppError, type ErrorCode } from '../errors.js';

export const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_parameter: 400,
  missing_parameter: 400,
  not_found: 404,
  method_not_allowed: 405,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_acceptable: 406,
  range_not_satisfiable: 416,
  conflict: 409,
  unprocessable: 422,
  busy: 503,
  timeout: 504,
  upstream_error: 502,
  internal: 500,
};

export interface ErrorBody {
  success: false;
  message: string;
  code: ErrorCode;
  parameter?: string;
  /** Script line and column, for /slicer/exec errors. */
  line?: number;
  column?: number;
}

/** Builds the JSON error response for any thrown value. Unknown errors become `internal`. */
export function errorResponse(err: unknown, onInternal?: (e: unknown) => void): Response {
  const appErr: AppError = isAppError(err)
    ? err
    : isBodyLimitError(err)
      ? new AppError('payload_too_large', 'request body is larger than the configured limit')
      : new AppError('internal', 'internal server error');
  if (appErr.code === 'internal') onInternal?.(err);
  const status = STATUS_OF[appErr.code];
  const body: ErrorBody = { success: false, message: appErr.message, code: appErr.code };
  if (appErr.details.parameter) body.parameter = appErr.details.parameter;
  if (typeof appErr.details.line === 'number') body.line = appErr.details.line;
  if (typeof appErr.details.column === 'number') body.column = appErr.details.column;
  const headers = new Headers({
    // Exactly `application/json`, as every success reply (Hono's c.json) and as Slicer: slicerio
    // compares the content type with == before it reads `message`.
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  if (appErr.details.allow) headers.set('allow', appErr.details.allow.join(', '));
  if (appErr.details.retryAfter !== undefined)
    headers.set('retry-after', String(appErr.details.retryAfter));
  if (appErr.details.size !== undefined)
    headers.set('content-range', `bytes */${appErr.details.size}`);
  if (appErr.code === 'unauthorized') headers.set('www-authenticate', 'Bearer realm="voxelgate"');
  return new Response(JSON.stringify(body), { status, headers });
}

function isBodyLimitError(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { name?: string }).name === 'BodyLimitError'
  );
}

/**
 * Domain errors. Every layer throws `AppError` with a code from `ErrorCode`; exactly one place
 * (`src/http/errors.ts`) turns a code into an HTTP status. Domain code never knows about HTTP.
 */

export const ERROR_CODES = [
  'bad_request', // malformed input that is not tied to one parameter
  'invalid_parameter', // a query/path parameter has a bad value; `details.parameter` names it
  'missing_parameter', // a required parameter is absent; `details.parameter` names it
  'not_found', // the path or the addressed resource does not exist
  'method_not_allowed', // the path exists but not for this method; `details.allow` lists methods
  'unauthorized', // no or wrong credentials
  'forbidden', // the operation is switched off or not permitted
  'payload_too_large', // request body over the configured limit
  'unsupported_media_type', // request body of a type the route does not take
  'not_acceptable', // nothing in Accept can be produced
  'range_not_satisfiable', // Range header outside the resource
  'conflict', // the request conflicts with stored state
  'unprocessable', // well-formed but semantically unusable content (e.g. NRRD with bad sizes)
  'busy', // a bounded queue is full; retry later
  'timeout', // an operation took longer than allowed
  'upstream_error', // a remote server (DICOMweb peer) failed
  'internal', // a bug; never used on purpose for user input
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  /** Name of the offending request parameter, when one is to blame. */
  parameter?: string;
  /** Methods allowed on the path (for `method_not_allowed`). */
  allow?: string[];
  /** Seconds after which a retry makes sense (for `busy`). */
  retryAfter?: number;
  /** Size of the addressed resource in bytes (for `range_not_satisfiable`). */
  size?: number;
  [key: string]: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** A parameter had a value we cannot use. The message should say what was expected. */
export function invalidParameter(parameter: string, message: string): AppError {
  return new AppError('invalid_parameter', `${parameter}: ${message}`, { parameter });
}

/** A required parameter was missing. */
export function missingParameter(parameter: string, what = 'is required'): AppError {
  return new AppError('missing_parameter', `${parameter} ${what}`, { parameter });
}

export function notFound(message: string): AppError {
  return new AppError('not_found', message);
}

/** Turns anything thrown (including itk-wasm's numeric throws) into an Error. */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e === 'number') return new Error(`native exception ${e}`);
  return new Error(String(e));
}

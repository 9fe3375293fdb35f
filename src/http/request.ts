/**
 * Request parsing for every route family: query parameters (strings, booleans, numbers, enums,
 * lists), and conditional requests (If-None-Match). Every bad value is a 400 naming its
 * parameter, never a 500.
 */

/**
 * Whether an `If-None-Match` header matches `etag` (weak comparison, RFC 9110 §13.1.2: `W/` is
 * ignored on both sides; `*` matches any current representation). Undefined header → false.
 */
export function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => bare(t) === bare(etag));
}

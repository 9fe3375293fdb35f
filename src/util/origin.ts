/** URL origins as options and allow-lists compare them. */

/**
 * `scheme://host[:port]` in canonical form (lower case, default port dropped), from an origin or
 * a URL; undefined for anything but http(s).
 */
export function normalizeOrigin(raw: string): string | undefined {
  try {
    const u = new URL(raw.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    if (u.username || u.password) return undefined;
    return u.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

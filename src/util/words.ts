/**
 * `src/util/` holds small helpers every layer may use (yes/no words, package facts, atomic file
 * writes); it imports no other src folder.
 *
 * Small vocabularies shared by every layer (query parameters, environment variables, NRRD
 * key/value hints). Imports nothing.
 */

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** `1/true/yes/on` → true, `0/false/no/off` → false (trimmed, any case); anything else → undefined. */
export function booleanWord(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  return undefined;
}

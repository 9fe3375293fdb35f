/**
 * Query parameter parsing for /slicer handlers: every bad value is a 400 naming the parameter
 * (NaN, Infinity, empty, wrong count), never a 500.
 */
import type { Context } from 'hono';
import { invalidParameter, missingParameter } from '../../errors.js';

/** A string parameter; absent → undefined; present but empty → 400. */
export function str(c: Context, name: string): string | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (v.trim() === '') throw invalidParameter(name, 'must not be empty');
  return v.trim();
}

export function requiredStr(c: Context, name: string): string {
  const v = str(c, name);
  if (v === undefined) throw missingParameter(name);
  return v;
}

function toNumber(name: string, raw: string): number {
  const t = raw.trim();
  const v = Number(t);
  if (t === '' || !Number.isFinite(v))
    throw invalidParameter(name, `expected a finite number, got "${raw}"`);
  return v;
}

/** A finite number; absent → undefined. */
export function num(c: Context, name: string): number | undefined {
  const v = c.req.query(name);
  return v === undefined ? undefined : toNumber(name, v);
}

/** A whole number ≥ min; absent → undefined. */
export function int(c: Context, name: string, min = 0): number | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  const n = toNumber(name, v);
  if (!Number.isInteger(n) || n < min)
    throw invalidParameter(name, `expected a whole number ≥ ${min}, got "${v}"`);
  return n;
}

/** A comma (or space) separated list of exactly `count` finite numbers; absent → undefined. */
export function numList(c: Context, name: string, count: number): number[] | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  const parts = v.split(/[\s,]+/).filter((x) => x !== '');
  if (parts.length !== count)
    throw invalidParameter(
      name,
      `expected ${count} comma-separated numbers, got ${parts.length} ("${v}")`,
    );
  return parts.map((p) => toNumber(name, p));
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

export function bool(c: Context, name: string): boolean | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  const t = v.trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  throw invalidParameter(name, `expected true or false, got "${v}"`);
}

export function oneOf<T extends string>(
  c: Context,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  const t = v.trim();
  const hit = allowed.find((a) => a.toLowerCase() === t.toLowerCase());
  if (!hit) throw invalidParameter(name, `expected one of ${allowed.join(', ')}, got "${v}"`);
  return hit;
}

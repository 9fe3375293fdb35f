import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoCache } from '../../src/util/memo-cache.js';

const bytesCache = (maxBytes: number, maxValueBytes?: number) =>
  new MemoCache<Uint8Array>({ maxBytes, maxValueBytes, sizeOf: (v) => v.length });

/** A computation that finishes when `resolve` is called. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

describe('MemoCache', () => {
  it('keeps values within the byte budget, evicting the least recently used first', async () => {
    const c = bytesCache(100);
    for (const k of ['a', 'b', 'c', 'd']) await c.get(k, () => Promise.resolve(new Uint8Array(25)));
    assert.equal(c.bytes, 100);
    assert.ok(c.peek('a'), 'a is kept and becomes the most recently used');
    await c.get('e', () => Promise.resolve(new Uint8Array(25)));
    assert.equal(c.peek('b'), undefined, 'b was the least recently used');
    assert.ok(c.peek('a'));
    assert.equal(c.size, 4);
    assert.equal(c.bytes, 100);
  });

  it('does not keep a value over a quarter of the budget by default, but returns it', async () => {
    const c = bytesCache(100);
    const v = await c.get('big', () => Promise.resolve(new Uint8Array(26)));
    assert.equal(v.length, 26);
    assert.equal(c.size, 0);
    await c.get('ok', () => Promise.resolve(new Uint8Array(25)));
    assert.equal(c.size, 1);
  });

  it('maxValueBytes lets one value fill the whole budget (and flush the others)', async () => {
    const c = bytesCache(100, 100);
    await c.get('a', () => Promise.resolve(new Uint8Array(30)));
    await c.get('all', () => Promise.resolve(new Uint8Array(100)));
    assert.equal(c.peek('a'), undefined);
    assert.ok(c.peek('all'));
    assert.equal(c.bytes, 100);
    await c.get('over', () => Promise.resolve(new Uint8Array(101)));
    assert.ok(c.peek('all'), 'a value over maxValueBytes is not kept and evicts nothing');
  });

  it('a budget of 0 keeps nothing but still shares work in flight', async () => {
    const c = bytesCache(0);
    const d = deferred<Uint8Array>();
    let runs = 0;
    const compute = () => (runs++, d.promise);
    const both = Promise.all([c.get('k', compute), c.get('k', compute)]);
    assert.equal(c.pending, 1);
    d.resolve(new Uint8Array(1));
    const [x, y] = await both;
    assert.equal(x, y);
    assert.equal(runs, 1);
    assert.equal(c.stats.shared, 1);
    assert.equal(c.size, 0);
    assert.equal(c.pending, 0);
  });

  it('callers of a key in flight share one computation; a rejection is shared and not kept', async () => {
    const c = bytesCache(100);
    const d = deferred<Uint8Array>();
    const a = c.get('k', () => d.promise);
    const b = c.get('k', () => Promise.resolve(new Uint8Array(1)));
    d.reject(new Error('boom'));
    await assert.rejects(a, /boom/);
    await assert.rejects(b, /boom/);
    assert.equal(c.pending, 0);
    assert.equal(c.size, 0);
    const v = await c.get('k', () => Promise.resolve(new Uint8Array(2)));
    assert.equal(v.length, 2, 'the next caller computes again');
    assert.deepEqual(c.stats, { hits: 0, shared: 1, misses: 2 });
  });

  it('set replaces a value under the same key without counting its bytes twice', () => {
    const c = bytesCache(100);
    c.set('k', new Uint8Array(20));
    c.set('k', new Uint8Array(10));
    assert.equal(c.bytes, 10);
    assert.equal(c.size, 1);
  });

  it('deletePrefix drops exactly the keys under a prefix and their bytes', () => {
    const c = bytesCache(100);
    c.set('file1/frame1', new Uint8Array(10));
    c.set('file1/frame2', new Uint8Array(10));
    c.set('file10/frame1', new Uint8Array(5));
    c.deletePrefix('file1/');
    assert.equal(c.size, 1);
    assert.equal(c.bytes, 5);
    assert.ok(c.peek('file10/frame1'));
  });
});

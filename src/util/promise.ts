/**
 * Promise helpers shared by the domain modules (no HTTP, no I/O).
 */

/**
 * Runs a synchronous body now and hands its result back as a promise; a throw becomes a
 * rejection, never a synchronous exception. This is what an `async` function whose body has no
 * `await` does, without the `async` (the lint rule require-await): it is how the synchronous
 * implementations (SQLite via better-sqlite3, the in-memory store, the file-system sweep) of the
 * asynchronous Index and StorageArea interfaces keep exactly the contract the PostgreSQL ones
 * have, so `p.then(…, onError)`, `Promise.all([...])` and `.catch()` see the same thing.
 * Node 22's `Promise.try` does the same; Node 20 has none.
 */
export function promiseTry<T>(body: () => T): Promise<T> {
  // The executor runs synchronously and the Promise constructor turns its throw into a rejection.
  return new Promise<T>((resolve) => {
    resolve(body());
  });
}

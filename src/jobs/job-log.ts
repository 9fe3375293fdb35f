/**
 * Job records kept under the data folder (`<data>/jobs.jsonl`, one JSON record per line, the last
 * line of an id wins), so that after a restart `GET /slicer/jobs/{id}` still answers, job ids and
 * job names (which name result nodes, `median-3`) continue instead of starting again at 1, and a
 * job the server stopped in the middle of is reported failed instead of vanishing.
 *
 * A record is appended when a job is queued and when it finishes. The lines are not fsynced: the
 * durable part of a job is its result nodes (saved with the scene before the job is reported
 * succeeded); a record lost in a crash is a missing history line, and a torn last line is skipped
 * at load. The file is rewritten (atomically) from the kept records once it holds four times as
 * many lines as are kept.
 */
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { JobRecord } from './types.js';

export class JobLog {
  readonly file: string;
  #chain: Promise<void> = Promise.resolve();
  #lines = 0;

  constructor(file: string) {
    this.file = file;
  }

  /** The records in the file, the last line of each id, oldest first (unparsable lines skipped). */
  async load(): Promise<JobRecord[]> {
    const text = await fsp.readFile(this.file, 'utf8').catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    });
    const byId = new Map<string, JobRecord>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      this.#lines++;
      try {
        const r = JSON.parse(line) as JobRecord;
        if (typeof r.id === 'string' && typeof r.state === 'string') {
          byId.delete(r.id); // keep insertion order = the latest line's position
          byId.set(r.id, r);
        }
      } catch {
        /* a line torn by a crash */
      }
    }
    return [...byId.values()];
  }

  /** Appends a record; once the file is four times `keep` lines, rewrites it from `kept()`. */
  append(record: JobRecord, keep: number, kept: () => JobRecord[]): void {
    const line = `${JSON.stringify(record)}\n`;
    this.#chain = this.#chain
      .then(async () => {
        if (this.#lines >= 4 * keep) {
          const all = kept();
          await writeFileAtomic(this.file, all.map((r) => `${JSON.stringify(r)}\n`).join(''));
          this.#lines = all.length;
        } else {
          await fsp.appendFile(this.file, line);
          this.#lines++;
        }
      })
      .catch(() => {}); // a history line that could not be written is not worth failing a job
  }

  /** Waits for the writes queued so far. */
  flushed(): Promise<void> {
    return this.#chain;
  }
}

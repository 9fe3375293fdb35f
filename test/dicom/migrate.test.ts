/**
 * `voxelgate migrate --from sqlite:DIR --to postgres://…`: an embedded archive is copied into
 * PostgreSQL (index and files) with exact bytes; a second run (as after an interruption) copies
 * nothing twice. Skips without PostgreSQL.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Archive } from '../../src/dicom/archive.js';
import { syntheticSeries } from '../../src/dicom/sample.js';
import { runCli } from '../../src/server/cli.js';
import { tempDir } from '../helpers/app.js';
import { freshDatabase, postgresSkipReason } from '../helpers/postgres.js';

const skip = postgresSkipReason();

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = -1;
  await runCli(
    args,
    {},
    {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      exit: (c: number) => {
        code = c;
      },
    },
  );
  return { code, out, err };
}

describe('voxelgate migrate', { skip }, () => {
  it('copies a SQLite archive into PostgreSQL exactly, and resumes without duplicates', async () => {
    const src = tempDir('vg-migrate-src-');
    const work = tempDir('vg-migrate-work-');
    const db = await freshDatabase('migrate');
    try {
      const s = syntheticSeries({ rows: 8, columns: 8, slices: 30, seed: 'migrate' });
      const a = Archive.openSync(src);
      await a.ingestMany(s.files.slice(0, 20));
      await a.close();
      const first = await cli(['migrate', '--from', `sqlite:${src}`, '--to', db, '--data', work]);
      assert.equal(first.code, 0, first.err.join('\n'));
      assert.match(first.out.join('\n'), /20 copied, 0 already there, of 20/);
      // More arrives in the source; the second run copies only the new ones.
      const a2 = Archive.openSync(src);
      await a2.ingestMany(s.files.slice(20));
      await a2.close();
      const second = await cli(['migrate', '--from', `sqlite:${src}`, '--to', db, '--data', work]);
      assert.equal(second.code, 0, second.err.join('\n'));
      assert.match(second.out.join('\n'), /10 copied, 20 already there, of 30/);
      const t = await Archive.open({ data: work, index: db, storage: 'postgres' });
      try {
        assert.equal((await t.counts()).instances, 30);
        for (let i = 0; i < 30; i++) {
          const row = await t.instance(s.studyUid, s.seriesUid, s.sopUids[i]!);
          assert.ok((await t.part10(row, true)).equals(s.files[i]!), `instance ${i}`);
        }
      } finally {
        await t.close();
      }
    } finally {
      rmSync(src, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
});

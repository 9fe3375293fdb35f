/** --dicomweb-remote / VOXELGATE_DICOMWEB_REMOTE and --dicomweb-timeout. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/server/config.js';

const parse = (args: string[], env: Record<string, string> = {}) =>
  parseConfig(args, env, '/pkg', '/cwd').config;

it('--dicomweb-remote is repeatable, canonical, and settable from the environment (comma-separated)', () => {
  assert.deepEqual(
    parse([
      '--dicomweb-remote',
      'HTTP://Pacs.Example:80/dicom-web',
      '--dicomweb-remote',
      'https://b.example:8443',
    ]).dicomwebRemotes,
    ['http://pacs.example', 'https://b.example:8443'],
  );
  assert.deepEqual(
    parse([], { VOXELGATE_DICOMWEB_REMOTE: 'http://a:8042, https://b' }).dicomwebRemotes,
    ['http://a:8042', 'https://b'],
  );
  assert.deepEqual(parse([]).dicomwebRemotes, []);
  assert.throws(() => parse(['--dicomweb-remote', 'ftp://x']), ConfigError);
  assert.throws(
    () => parse(['--dicomweb-remote', 'not a url']),
    /--dicomweb-remote takes an origin/,
  );
  assert.equal(parse(['--dicomweb-timeout', '5']).dicomwebTimeoutMs, 5000);
  assert.equal(parse([]).dicomwebTimeoutMs, 120_000);
});

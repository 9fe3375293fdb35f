import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, envName, helpText, OPTIONS, parseConfig } from '../../src/server/config.js';

const parse = (args: string[], env: Record<string, string> = {}) =>
  parseConfig(args, env, '/pkg', '/cwd');

test('defaults: loopback, port 2016, 20 tries, ./data, everything on except exec', () => {
  const { config } = parse([]);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 2016);
  assert.equal(config.portTries, 20);
  assert.equal(config.data, path.resolve('/cwd', 'data'));
  assert.equal(config.docroot, path.join('/pkg', 'docroot'));
  assert.deepEqual(
    [config.slicer, config.dicom, config.static, config.enableExec],
    [true, true, true, false],
  );
  assert.equal(config.cors, undefined);
  assert.equal(config.token, undefined);
});

test('command line options', () => {
  const { config } = parse([
    '--host',
    '0.0.0.0',
    '--port',
    '8080',
    '--port-tries',
    '3',
    '--no-dicom',
    '--enable-exec',
    '--cors',
    '*',
    '--token',
    's3cret-token',
    '--quiet',
    '--data',
    'd',
    '--import-root',
    '/a',
    '--import-root',
    '/b',
  ]);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.port, 8080);
  assert.equal(config.portTries, 3);
  assert.equal(config.dicom, false);
  assert.equal(config.enableExec, true);
  assert.equal(config.cors, '*');
  assert.equal(config.token, 's3cret-token');
  assert.equal(config.quiet, true);
  assert.equal(config.data, path.resolve('/cwd', 'd'));
  assert.deepEqual(config.importRoots, ['/a', '/b']);
});

test('environment variables, with the command line winning', () => {
  const { config } = parse(['--port', '9000'], {
    VOXELGATE_PORT: '7000',
    VOXELGATE_HOST: '::1',
    VOXELGATE_NO_STATIC: 'true',
    VOXELGATE_QUIET: '0',
  });
  assert.equal(config.port, 9000);
  assert.equal(config.host, '::1');
  assert.equal(config.static, false);
  assert.equal(config.quiet, false);
});

test('every option has an environment variable name and appears in --help', () => {
  const help = helpText('1.2.3');
  for (const o of OPTIONS) {
    assert.match(help, new RegExp(`--${o.name}\\b`));
    if (o.name !== 'help' && o.name !== 'version')
      assert.ok(help.includes(envName(o.name)), o.name);
  }
  assert.equal(envName('port-tries'), 'VOXELGATE_PORT_TRIES');
});

test('bad values are rejected with a message naming the option', () => {
  for (const [args, env, re] of [
    [['--port', 'abc'], {}, /--port must be a whole number/],
    [['--port', '70000'], {}, /--port must be between 0 and 65535/],
    [['--port-tries', '0'], {}, /--port-tries/],
    [['--log-level', 'loud'], {}, /--log-level/],
    [['--tls-cert', 'c.pem'], {}, /--tls-cert and --tls-key go together/],
    [['--cors', 'not an origin'], {}, /--cors/],
    [['--bogus'], {}, /bogus/],
    [[], { VOXELGATE_QUIET: 'maybe' }, /VOXELGATE_QUIET must be true or false/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    assert.throws(
      () => parse(args, env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      args.join(' '),
    );
  }
});

test('--help and --version flags are reported', () => {
  assert.equal(parse(['--help']).help, true);
  assert.equal(parse(['-v']).version, true);
});

test('the README documents every option', async () => {
  const { readFileSync } = await import('node:fs');
  const { PACKAGE_ROOT } = await import('../../src/util/package.js');
  const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
  for (const o of OPTIONS) assert.ok(readme.includes(`--${o.name}`), `README lacks --${o.name}`);
});

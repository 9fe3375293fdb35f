/**
 * Server configuration: one table of options that drives argument parsing, environment variables
 * (`VOXELGATE_<NAME>`) and `--help`. Pure: takes argv/env, returns a Config or throws ConfigError.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { booleanWord } from '../util/words.js';
import { normalizeOrigin } from '../util/origin.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface Config {
  /** Address to bind (default loopback only). */
  host: string;
  /** First port to try; 0 = ephemeral. */
  port: number;
  /** How many successive ports to try when the port is taken. */
  portTries: number;
  /** Folder served at `/` (absolute). */
  docroot: string;
  /** Data folder for the scene and the DICOM store (absolute). */
  data: string;
  /** DICOM index: undefined = SQLite under <data>/dicom; a postgres:// URL = PostgreSQL. */
  index?: string;
  /** Where DICOM files live: `fs` (under <data>/dicom), `fs:DIR` (absolute) or `postgres` (the --index database). */
  storage: string;
  slicer: boolean;
  dicom: boolean;
  static: boolean;
  /** Serve the glTF render server at `/render` (`--no-render-server` switches it off). */
  renderServer: boolean;
  enableExec: boolean;
  /** CORS allowed origin (`*` or an origin), or undefined for no CORS headers. */
  cors?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Accept h2c (HTTP/2 with prior knowledge) on plain sockets beside HTTP/1.1. */
  http2: boolean;
  logLevel: LogLevel;
  /** No access log and no startup banner beyond the URL line. */
  quiet: boolean;
  /** File to write the bound port number into, for scripts. */
  portFile?: string;
  /** Allow `DELETE /slicer/system` to shut the server down. */
  allowShutdown: boolean;
  /** Folders that `POST /slicer/mrml?localfile=` may read from (absolute). */
  importRoots: string[];
  /** Folders that `GET /slicer/mrml/file?localfile=` may write into (absolute). */
  exportRoots: string[];
  /** Origins (`scheme://host[:port]`) that `POST /slicer/mrml?url=` may download from. */
  importUrls: string[];
  /** Milliseconds one `POST /slicer/mrml?url=` download may take in total. */
  importTimeoutMs: number;
  /** Folders imported into the DICOM store at startup (absolute). */
  imports: string[];
  /** Do not load sample data into an empty scene/archive at startup. */
  noSamples: boolean;
  /** Which requests need the token: `mutating` (POST/PUT/DELETE/PATCH) or `all`. */
  auth: 'mutating' | 'all';
  /** Optional read-only token: accepted for GET/HEAD when `auth` is `all`. */
  readToken?: string;
  /** Allow binding beyond loopback without a token. */
  insecure: boolean;
  /** Extra Host header values accepted (DNS-rebinding guard); loopback names are always accepted on loopback. */
  allowedHosts: string[];
  /** Request body limits in bytes, per route family. */
  limits: Limits;
  /** Milliseconds a `/slicer/exec` script may run. */
  execTimeoutMs: number;
  /** Origins (`scheme://host[:port]`) that `/slicer/accessDICOMwebStudy` may retrieve from. */
  dicomwebRemotes: string[];
  /** Milliseconds a remote DICOMweb retrieval may take in total. */
  dicomwebTimeoutMs: number;
  /** Processing jobs run at once in the job worker pool (default cores − 1, at least 1). */
  jobs?: number;
  /** Jobs that may wait for a worker before new ones get 503 (default 16). */
  jobQueue: number;
  /** Milliseconds one processing job may run before it fails with `timeout` (0 = no limit). */
  jobTimeoutMs: number;
  /** Plug-in function modules (`.mjs`/`.js`, absolute), from --functions and --services-config. */
  functionModules: string[];
  /** YAML or JSON file naming plug-in modules to load at startup (absolute). */
  servicesConfig?: string;
}

export interface Limits {
  /** NRRD uploads (volumes, grid transforms). */
  volume: number;
  /** STOW-RS bodies (all parts together). */
  stow: number;
  /** JSON and other small bodies. */
  json: number;
  /** `/slicer/exec` source. */
  exec: number;
  /** Mesh uploads (models) and glTF scenes posted to `/render`. */
  mesh: number;
}

export class ConfigError extends Error {}

type Kind = 'string' | 'boolean' | 'int' | 'list';
interface OptionSpec {
  name: string;
  kind: Kind;
  arg?: string;
  help: string;
  default?: string | number | boolean;
  short?: string;
  /** List options: how the environment variable separates values (default the path delimiter). */
  envSeparator?: RegExp;
}

/** Every command-line option, in `--help` order. `--no-x` options are booleans of their own. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    name: 'host',
    kind: 'string',
    arg: 'ADDR',
    default: '127.0.0.1',
    help: 'address to bind; anything but loopback needs care (see README)',
  },
  {
    name: 'port',
    kind: 'int',
    arg: 'N',
    default: 2016,
    short: 'p',
    help: 'first port to try; 0 picks a free ephemeral port',
  },
  {
    name: 'port-tries',
    kind: 'int',
    arg: 'N',
    default: 20,
    help: 'how many successive ports to try when one is taken',
  },
  {
    name: 'port-file',
    kind: 'string',
    arg: 'FILE',
    help: 'write the bound port number to FILE once listening',
  },
  {
    name: 'docroot',
    kind: 'string',
    arg: 'DIR',
    default: '<package>/docroot',
    help: 'folder served at /',
  },
  {
    name: 'data',
    kind: 'string',
    arg: 'DIR',
    default: './data',
    help: 'data folder for the scene and the DICOM store',
  },
  {
    name: 'index',
    kind: 'string',
    arg: 'URL',
    help: 'DICOM index: postgres://user@host/db for PostgreSQL (several replicas on one database); default SQLite under --data',
  },
  {
    name: 'storage',
    kind: 'string',
    arg: 'WHERE',
    default: 'fs',
    help: 'where DICOM files live: fs (under --data), fs:DIR (shared by replicas), or postgres (in the --index database)',
  },
  {
    name: 'no-slicer',
    kind: 'boolean',
    help: 'do not serve /slicer (the setting for archive replicas)',
  },
  { name: 'no-dicom', kind: 'boolean', help: 'do not serve /dicom' },
  { name: 'no-static', kind: 'boolean', help: 'do not serve static pages at /' },
  {
    name: 'no-render-server',
    kind: 'boolean',
    help: 'do not serve the glTF render server (POST /render)',
  },
  {
    name: 'no-samples',
    kind: 'boolean',
    help: 'do not add sample data to an empty scene or archive',
  },
  {
    name: 'enable-exec',
    kind: 'boolean',
    help: "enable POST /slicer/exec (gives callers the server account's power)",
  },
  {
    name: 'allow-shutdown',
    kind: 'boolean',
    help: 'allow DELETE /slicer/system to stop the server',
  },
  {
    name: 'import-root',
    kind: 'list',
    arg: 'DIR',
    help: 'folder that POST /slicer/mrml?localfile= may read (repeatable)',
  },
  {
    name: 'export-root',
    kind: 'list',
    arg: 'DIR',
    help: 'folder that GET /slicer/mrml/file?localfile= may write into (repeatable)',
  },
  {
    name: 'import-url',
    kind: 'list',
    arg: 'ORIGIN',
    envSeparator: /[\s,]+/,
    help: 'origin that POST /slicer/mrml?url= may download from (repeatable; env: comma-separated)',
  },
  {
    name: 'import-timeout',
    kind: 'int',
    arg: 'SEC',
    default: 60,
    help: 'time limit of one POST /slicer/mrml?url= download in seconds',
  },
  {
    name: 'import',
    kind: 'list',
    arg: 'DIR',
    help: 'import DICOM files from DIR into the archive at startup (repeatable)',
  },
  { name: 'cors', kind: 'string', arg: 'ORIGIN', help: 'send CORS headers allowing ORIGIN (or *)' },
  {
    name: 'token',
    kind: 'string',
    arg: 'TOKEN',
    help: 'bearer token required for mutating requests (and for all with --auth all)',
  },
  {
    name: 'read-token',
    kind: 'string',
    arg: 'TOKEN',
    help: 'read-only token accepted for GET/HEAD when --auth all',
  },
  {
    name: 'auth',
    kind: 'string',
    arg: 'WHAT',
    default: 'mutating',
    help: 'which requests need the token: mutating or all',
  },
  { name: 'insecure', kind: 'boolean', help: 'allow binding beyond loopback without --token' },
  {
    name: 'allowed-host',
    kind: 'list',
    arg: 'HOST',
    help: 'extra Host header value to accept (repeatable; DNS-rebinding guard)',
  },
  {
    name: 'limit-volume',
    kind: 'int',
    arg: 'MIB',
    default: 4096,
    help: 'largest NRRD upload in MiB',
  },
  {
    name: 'limit-stow',
    kind: 'int',
    arg: 'MIB',
    default: 8192,
    help: 'largest STOW-RS request in MiB',
  },
  { name: 'limit-json', kind: 'int', arg: 'KIB', default: 16384, help: 'largest JSON body in KiB' },
  {
    name: 'limit-exec',
    kind: 'int',
    arg: 'KIB',
    default: 1024,
    help: 'largest /slicer/exec script in KiB',
  },
  {
    name: 'limit-mesh',
    kind: 'int',
    arg: 'MIB',
    default: 512,
    help: 'largest mesh upload (PUT /slicer/model) or glTF scene (POST /render) in MiB',
  },
  {
    name: 'dicomweb-remote',
    kind: 'list',
    arg: 'ORIGIN',
    envSeparator: /[\s,]+/,
    help: 'DICOMweb origin that /slicer/accessDICOMwebStudy may pull studies from (repeatable; env: comma-separated)',
  },
  {
    name: 'dicomweb-timeout',
    kind: 'int',
    arg: 'SEC',
    default: 120,
    help: 'time limit of one remote DICOMweb study retrieval in seconds',
  },
  {
    name: 'exec-timeout',
    kind: 'int',
    arg: 'MS',
    default: 10000,
    help: 'time limit of one /slicer/exec script in ms',
  },
  {
    name: 'jobs',
    kind: 'int',
    arg: 'N',
    default: 'cores−1',
    help: 'processing jobs run at once in the job worker pool (at least 1)',
  },
  {
    name: 'job-queue',
    kind: 'int',
    arg: 'N',
    default: 16,
    help: 'processing jobs that may wait for a worker; more get 503 + Retry-After',
  },
  {
    name: 'job-timeout',
    kind: 'int',
    arg: 'SEC',
    default: 600,
    help: 'time limit of one processing job in seconds (0 = none)',
  },
  {
    name: 'functions',
    kind: 'list',
    arg: 'FILE',
    help: 'load plug-in processing functions from a JavaScript module (repeatable)',
  },
  {
    name: 'services-config',
    kind: 'string',
    arg: 'FILE',
    help: 'YAML or JSON file listing plug-in function modules to load at startup',
  },
  {
    name: 'tls-cert',
    kind: 'string',
    arg: 'FILE',
    help: 'PEM certificate; with --tls-key serves HTTPS',
  },
  { name: 'tls-key', kind: 'string', arg: 'FILE', help: 'PEM private key for --tls-cert' },
  {
    name: 'http2',
    kind: 'boolean',
    help: 'also serve h2c (HTTP/2 without TLS) on the port; with TLS, h2 is always offered',
  },
  {
    name: 'log-level',
    kind: 'string',
    arg: 'LEVEL',
    default: 'info',
    help: 'error, warn, info or debug',
  },
  { name: 'quiet', kind: 'boolean', short: 'q', help: 'no access log' },
  { name: 'help', kind: 'boolean', short: 'h', help: 'show this help and exit' },
  { name: 'version', kind: 'boolean', short: 'v', help: 'print the version and exit' },
];

/**
 * The default of an option as `OPTIONS` states it: the one place a default is written (help
 * text, README table, `parseConfig` and `defaultConfig` all read it from there).
 */
function optionDefault(name: string): string {
  const d = OPTIONS.find((o) => o.name === name)?.default;
  if (d === undefined) throw new Error(`option --${name} has no default`);
  return String(d);
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** Body limits in bytes at their defaults (`--limit-*`). */
export const DEFAULT_LIMITS: Limits = {
  volume: Number(optionDefault('limit-volume')) * MiB,
  stow: Number(optionDefault('limit-stow')) * MiB,
  json: Number(optionDefault('limit-json')) * KiB,
  exec: Number(optionDefault('limit-exec')) * KiB,
  mesh: Number(optionDefault('limit-mesh')) * MiB,
};

/** `port-tries` → `VOXELGATE_PORT_TRIES`. */
export const envName = (option: string): string =>
  `VOXELGATE_${option.replace(/-/g, '_').toUpperCase()}`;

export interface ParsedCli {
  config: Config;
  help: boolean;
  version: boolean;
  positionals: string[];
}

function envBoolean(name: string, raw: string): boolean {
  // An empty variable (VOXELGATE_QUIET=) is off.
  const v = raw.trim() === '' ? false : booleanWord(raw);
  if (v !== undefined) return v;
  throw new ConfigError(`${name} must be true or false, not "${raw}"`);
}

function toInt(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(`--${name} must be a whole number, not "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new ConfigError(`--${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

/**
 * Parses arguments (without `node` and the script) and environment into a Config.
 * Precedence: command line, then environment, then defaults.
 */
export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
  packageRoot: string,
  cwd: string,
): ParsedCli {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> =
    {};
  for (const o of OPTIONS) {
    spec[o.name] = {
      type: o.kind === 'boolean' ? 'boolean' : 'string',
      ...(o.short ? { short: o.short } : {}),
      ...(o.kind === 'list' ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;

  const get = (name: string): string | boolean | string[] | undefined => {
    if (values[name] !== undefined) return values[name];
    const raw = env[envName(name)];
    if (raw === undefined) return undefined;
    const o = OPTIONS.find((x) => x.name === name)!;
    if (o.kind === 'boolean') return envBoolean(envName(name), raw);
    if (o.kind === 'list') return raw.split(o.envSeparator ?? path.delimiter).filter(Boolean);
    return raw;
  };
  const str = (name: string): string | undefined => {
    const v = get(name);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const bool = (name: string): boolean => get(name) === true;
  const list = (name: string): string[] => {
    const v = get(name);
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  };
  const abs = (p: string) => path.resolve(cwd, p);

  const logLevel = (str('log-level') ?? optionDefault('log-level')) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`);
  const tlsCert = str('tls-cert');
  const tlsKey = str('tls-key');
  if (Boolean(tlsCert) !== Boolean(tlsKey))
    throw new ConfigError('--tls-cert and --tls-key go together');
  const cors = str('cors');
  if (cors !== undefined && cors !== '*' && !/^https?:\/\/[^/\s]+$/.test(cors)) {
    throw new ConfigError(
      `--cors takes * or an origin such as http://localhost:3000, not "${cors}"`,
    );
  }

  const rawAuth = str('auth') ?? optionDefault('auth');
  if (rawAuth !== 'mutating' && rawAuth !== 'all')
    throw new ConfigError(`--auth must be mutating or all, not "${rawAuth}"`);
  const auth: Config['auth'] = rawAuth;
  const token = str('token');
  const readToken = str('read-token');
  if (readToken && !token) throw new ConfigError('--read-token needs --token as well');
  if (token !== undefined && token.length < 8)
    throw new ConfigError('--token must be at least 8 characters long');
  const int = (name: string, min: number, max: number) =>
    toInt(name, str(name) ?? optionDefault(name), min, max);

  const config: Config = {
    host: str('host') ?? optionDefault('host'),
    port: int('port', 0, 65535),
    portTries: int('port-tries', 1, 1000),
    portFile: str('port-file') ? abs(str('port-file')!) : undefined,
    docroot: abs(str('docroot') ?? path.join(packageRoot, 'docroot')),
    data: abs(str('data') ?? optionDefault('data')),
    index: parseIndex(str('index')),
    storage: parseStorage(str('storage') ?? 'fs', abs),
    slicer: !bool('no-slicer'),
    dicom: !bool('no-dicom'),
    static: !bool('no-static'),
    renderServer: !bool('no-render-server'),
    noSamples: bool('no-samples'),
    enableExec: bool('enable-exec'),
    allowShutdown: bool('allow-shutdown'),
    importRoots: list('import-root').map(abs),
    exportRoots: list('export-root').map(abs),
    importUrls: list('import-url').map((o) => {
      const origin = normalizeOrigin(o);
      if (!origin || new URL(o).pathname.replace(/\/$/, '') !== '')
        throw new ConfigError(
          `--import-url takes an origin such as https://data.example.org, not "${o}"`,
        );
      return origin;
    }),
    importTimeoutMs: int('import-timeout', 1, 86_400) * 1000,
    imports: list('import').map(abs),
    cors,
    token,
    readToken,
    auth,
    insecure: bool('insecure'),
    allowedHosts: list('allowed-host').map((h) => h.toLowerCase()),
    limits: {
      volume: int('limit-volume', 1, 1024 * 1024) * MiB,
      stow: int('limit-stow', 1, 1024 * 1024) * MiB,
      json: int('limit-json', 1, 1024 * 1024) * KiB,
      exec: int('limit-exec', 1, 1024 * 1024) * KiB,
      mesh: int('limit-mesh', 1, 1024 * 1024) * MiB,
    },
    execTimeoutMs: int('exec-timeout', 10, 3_600_000),
    dicomwebRemotes: list('dicomweb-remote').map((o) => {
      const origin = normalizeOrigin(o);
      if (!origin)
        throw new ConfigError(
          `--dicomweb-remote takes an origin such as https://pacs.example.org:8042, not "${o}"`,
        );
      return origin;
    }),
    dicomwebTimeoutMs: int('dicomweb-timeout', 1, 86_400) * 1000,
    jobs: str('jobs') !== undefined ? toInt('jobs', str('jobs')!, 1, 256) : undefined,
    jobQueue: int('job-queue', 0, 100_000),
    jobTimeoutMs: int('job-timeout', 0, 7 * 86_400) * 1000,
    functionModules: list('functions').map(abs),
    servicesConfig: str('services-config') ? abs(str('services-config')!) : undefined,
    tlsCert: tlsCert ? abs(tlsCert) : undefined,
    tlsKey: tlsKey ? abs(tlsKey) : undefined,
    http2: bool('http2'),
    logLevel,
    quiet: bool('quiet'),
  };
  if (config.storage === 'postgres' && !config.index)
    throw new ConfigError(
      '--storage postgres needs --index postgres://… (the database to store into)',
    );
  return { config, help: bool('help'), version: bool('version'), positionals: parsed.positionals };
}

function parseIndex(v: string | undefined): string | undefined {
  if (v === undefined || v === '' || v === 'sqlite') return undefined;
  if (!/^postgres(ql)?:\/\//.test(v))
    throw new ConfigError(
      `--index takes sqlite or a postgres://user@host:port/database URL, not "${v}"`,
    );
  return v;
}

function parseStorage(v: string, abs: (p: string) => string): string {
  if (v === 'fs' || v === 'postgres') return v;
  if (v.startsWith('fs:') && v.length > 3) return `fs:${abs(v.slice(3))}`;
  throw new ConfigError(`--storage takes fs, fs:DIR or postgres, not "${v}"`);
}

/**
 * Defaults for programmatic use and tests: the CLI defaults (`parseConfig` of no arguments, paths
 * relative to the working directory) except loopback on an ephemeral port, one port try, no
 * sample data, everything quiet.
 */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const cwd = process.cwd();
  return {
    ...parseConfig([], {}, cwd, cwd).config,
    port: 0,
    portTries: 1,
    noSamples: true,
    logLevel: 'error',
    quiet: true,
    ...overrides,
  };
}

export function helpText(version: string): string {
  const lines = [
    `voxelgate ${version} — HTTP control server for medical imaging (Slicer WebServer API + DICOMweb)`,
    '',
    'Usage:',
    '  voxelgate [options]                 serve (npm start)',
    '  voxelgate import [--data DIR] <dir|files…>   add DICOM files to the archive (works while a server runs)',
    '  voxelgate migrate --from sqlite:DIR --to postgres://… [--storage postgres|fs:DIR]   copy an embedded archive into PostgreSQL (progress bar; run again to resume)',
    '',
    'Options (each also settable as an environment variable, shown on the right):',
  ];
  for (const o of OPTIONS) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
    const def = o.default !== undefined ? ` (default ${o.default})` : '';
    const env = o.name === 'help' || o.name === 'version' ? '' : `  [${envName(o.name)}]`;
    lines.push(`  ${flag.padEnd(28)} ${o.help}${def}${env}`);
  }
  lines.push(
    '',
    'Examples:',
    '  voxelgate --port 8080 --data /srv/voxelgate',
    '  curl http://127.0.0.1:2016/slicer/system/version',
    '',
  );
  return lines.join('\n');
}

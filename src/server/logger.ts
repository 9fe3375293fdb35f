/** A small leveled logger writing one line per event to stderr (access log to stdout). */
import type { LogLevel } from './config.js';

export interface Logger {
  error(msg: string, err?: unknown): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  /** One access-log line; silent when access logging is off. */
  access(line: string): void;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface LoggerOptions {
  level: LogLevel;
  accessLog: boolean;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export function createLogger({
  level,
  accessLog,
  out = (l) => process.stdout.write(l + '\n'),
  err = (l) => process.stderr.write(l + '\n'),
}: LoggerOptions): Logger {
  const on = (l: LogLevel) => RANK[l] <= RANK[level];
  const stamp = () => new Date().toISOString();
  return {
    error(msg, e) {
      if (!on('error')) return;
      const detail =
        e instanceof Error
          ? `\n${e.stack ?? e.message}`
          : e !== undefined
            ? // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever a caller logs
              ` ${String(e)}`
            : '';
      err(`${stamp()} error ${msg}${detail}`);
    },
    warn: (msg) => on('warn') && err(`${stamp()} warn  ${msg}`),
    info: (msg) => on('info') && err(`${stamp()} info  ${msg}`),
    debug: (msg) => on('debug') && err(`${stamp()} debug ${msg}`),
    access: (line) => accessLog && out(`${stamp()} ${line}`),
  };
}

/** A logger that drops everything (tests). */
const nothing = (): void => undefined;
export const silentLogger: Logger = {
  error: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  access: nothing,
};

/** A request target with the value of every `access_token` query parameter replaced by `***`. */
export function redactSecrets(target: string): string {
  return target.replace(/([?&;]access_token=)[^&#]*/gi, '$1***');
}

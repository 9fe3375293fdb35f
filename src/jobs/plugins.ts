/**
 * Plug-in function modules: what a module may export, and the services config that lists modules
 * to load at startup. A module exports one function definition as `default`, or an array of them
 * (`default` or `functions`), or named exports that look like definitions (an object with `name`
 * and `run`). The same module is imported twice: here, on the main thread, for its metadata, and
 * in the job worker that runs it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors.js';
import type { FunctionRegistry } from './registry.js';
import type { FunctionDefinition } from './types.js';

const isDefinition = (x: unknown): x is FunctionDefinition =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as FunctionDefinition).name === 'string' &&
  typeof (x as FunctionDefinition).run === 'function';

/** Every function definition a module exports (in export order, each name once). */
export function definitionsOf(mod: Record<string, unknown>): FunctionDefinition[] {
  const out: FunctionDefinition[] = [];
  const add = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(add);
    else if (isDefinition(x) && !out.some((d) => d.name === x.name)) out.push(x);
  };
  add(mod.default);
  add(mod.functions);
  for (const [k, v] of Object.entries(mod)) if (k !== 'default' && k !== 'functions') add(v);
  return out;
}

/** The named function of a module (throws when the module no longer exports it). */
export function pickFunction(mod: Record<string, unknown>, name: string): FunctionDefinition {
  const fn = definitionsOf(mod).find((d) => d.name === name);
  if (!fn) throw new Error(`the plug-in module no longer exports a function named ${name}`);
  return fn;
}

/** Imports a plug-in module (absolute path) and returns its definitions; throws a clear error. */
export async function loadPluginModule(file: string): Promise<FunctionDefinition[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new AppError(
      'bad_request',
      `cannot load plug-in module ${file}: ${(e as Error).message}`,
    );
  }
  const defs = definitionsOf(mod);
  if (defs.length === 0)
    throw new AppError(
      'bad_request',
      `plug-in module ${file} exports no function (an object with a name and a run function)`,
    );
  return defs;
}

/**
 * The module files listed in a services config (YAML or JSON):
 * `functions: [./add.mjs, {module: ./slow.mjs}]` (also `services:`), paths relative to the file.
 */
export function modulesOfServicesConfig(file: string): string[] {
  let doc: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new AppError(
      'bad_request',
      `cannot read services config ${file}: ${(e as Error).message}`,
    );
  }
  const o = (doc ?? {}) as { functions?: unknown; services?: unknown };
  const entries = [
    ...(Array.isArray(o.functions) ? (o.functions as unknown[]) : []),
    ...(Array.isArray(o.services) ? (o.services as unknown[]) : []),
  ];
  if (entries.length === 0)
    throw new AppError(
      'bad_request',
      `services config ${file} lists no modules (expected "functions: [path.mjs, …]")`,
    );
  return entries.map((e) => {
    const m =
      typeof e === 'string'
        ? e
        : typeof e === 'object' && e !== null
          ? ((e as { module?: unknown; file?: unknown }).module ?? (e as { file?: unknown }).file)
          : undefined;
    if (typeof m !== 'string' || m === '')
      throw new AppError('bad_request', `services config ${file}: each entry needs a module path`);
    return path.resolve(path.dirname(file), m);
  });
}

/** Loads plug-in modules and registers their functions; returns the names added. */
export async function registerPluginModules(
  registry: FunctionRegistry,
  files: readonly string[],
): Promise<string[]> {
  const names: string[] = [];
  for (const file of files) {
    for (const def of await loadPluginModule(file)) {
      registry.register(def, 'plugin', file);
      names.push(def.name);
    }
  }
  return names;
}

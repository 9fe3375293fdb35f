/**
 * The function registry: built-ins and plug-ins by name, each with its params JSON Schema compiled
 * by ajv. Validation fills defaults and names the offending field (`params.radius: must be <= 10`).
 * Node parameters are strings marked `"x-node": "volume"` (or labelmap, transform, …); the job
 * manager resolves them against the scene before a job is queued.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError, notFound } from '../errors.js';
import type { FunctionDefinition, FunctionInfo, JsonSchema, NodeRefKind } from './types.js';

const NODE_KINDS: readonly NodeRefKind[] = [
  'volume',
  'labelmap',
  'transform',
  'segmentation',
  'fiducials',
];

function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, coerceTypes, strict: false });
  ajv.addKeyword({ keyword: 'x-node', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-segment-of', schemaType: 'string' });
  return ajv;
}

export interface RegisteredFunction {
  info: FunctionInfo;
  /** Plug-in module path (absolute) for the worker to import; absent for built-ins. */
  module?: string;
  validate: ValidateFunction;
  /** Same schema, with query-string coercion (`?a=1` → 1) for direct calls. */
  validateQuery: ValidateFunction;
  /** Top-level params that reference nodes, and which kind. */
  nodeParams: Array<{ name: string; kind: NodeRefKind }>;
  /** Parameters naming segments (one string or an array) of the segmentation parameter `of`. */
  segmentParams: Array<{ name: string; of: string }>;
}

export class FunctionRegistry {
  #fns = new Map<string, RegisteredFunction>();
  #ajv = makeAjv(false);
  #ajvQuery = makeAjv(true);

  register(def: FunctionDefinition, source: 'builtin' | 'plugin', module?: string): void {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(def.name))
      throw new AppError(
        'bad_request',
        `function name "${def.name}" must start with a letter and use letters, digits, _ . - only`,
      );
    if (this.#fns.has(def.name))
      throw new AppError('conflict', `a function named ${def.name} is already registered`);
    const params: JsonSchema = def.params ?? { type: 'object', properties: {} };
    let validate: ValidateFunction, validateQuery: ValidateFunction;
    try {
      validate = this.#ajv.compile(params);
      validateQuery = this.#ajvQuery.compile(params);
    } catch (e) {
      throw new AppError(
        'bad_request',
        `function ${def.name}: its params schema is not valid JSON Schema: ${(e as Error).message}`,
      );
    }
    const props = (params.properties ?? {}) as Record<string, { 'x-node'?: string }>;
    const nodeParams = Object.entries(props).flatMap(([name, p]) => {
      const kind = p['x-node'] as NodeRefKind | undefined;
      if (kind === undefined) return [];
      if (!NODE_KINDS.includes(kind))
        throw new AppError(
          'bad_request',
          `function ${def.name}: x-node of ${name} must be one of ${NODE_KINDS.join(', ')}`,
        );
      return [{ name, kind }];
    });
    const segmentParams = Object.entries(
      props as Record<string, { 'x-segment-of'?: string }>,
    ).flatMap(([name, p]) => {
      const of = p['x-segment-of'];
      if (of === undefined) return [];
      if (!nodeParams.some((n) => n.name === of && n.kind === 'segmentation'))
        throw new AppError(
          'bad_request',
          `function ${def.name}: x-segment-of of ${name} must name a parameter with x-node segmentation`,
        );
      return [{ name, of }];
    });
    const isGenerator = def.run.constructor?.name === 'AsyncGeneratorFunction';
    this.#fns.set(def.name, {
      info: {
        name: def.name,
        title: def.title ?? def.name,
        description: def.description ?? '',
        params,
        outputs: def.outputs ?? ['values'],
        streams: def.streams ?? (isGenerator || source === 'builtin'),
        source,
      },
      ...(module ? { module } : {}),
      validate,
      validateQuery,
      nodeParams,
      segmentParams,
    });
  }

  list(): FunctionInfo[] {
    return [...this.#fns.values()].map((f) => f.info);
  }

  has(name: string): boolean {
    return this.#fns.has(name);
  }

  get(name: string): RegisteredFunction {
    const f = this.#fns.get(name);
    if (!f)
      throw notFound(
        `no function named "${name}"; GET /slicer/functions lists them (${[...this.#fns.keys()].join(', ')})`,
      );
    return f;
  }

  /**
   * Checks params against the function's schema and returns them with defaults filled in (a copy).
   * `fromQuery` coerces strings (query parameters) to the schema's types.
   */
  validate(name: string, params: unknown, fromQuery = false): Record<string, unknown> {
    const f = this.get(name);
    params ??= {};
    if (typeof params !== 'object' || Array.isArray(params))
      throw new AppError('invalid_parameter', 'params must be a JSON object', {
        parameter: 'params',
      });
    const copy = structuredClone(params) as Record<string, unknown>;
    const v = fromQuery ? f.validateQuery : f.validate;
    if (!v(copy)) throw schemaError(v.errors?.[0]);
    return copy;
  }
}

/** The first ajv error as an invalid_parameter naming the field (`params.radius`). */
function schemaError(e: ErrorObject | undefined): AppError {
  if (!e) return new AppError('invalid_parameter', 'params do not match the schema');
  let field = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const extra = e.params as {
    missingProperty?: string;
    additionalProperty?: string;
    allowedValues?: unknown[];
  };
  let message = e.message ?? 'is not valid';
  if (e.keyword === 'required' && extra.missingProperty) {
    field = field ? `${field}.${extra.missingProperty}` : extra.missingProperty;
    message = 'is required';
  } else if (e.keyword === 'additionalProperties' && extra.additionalProperty) {
    field = field ? `${field}.${extra.additionalProperty}` : extra.additionalProperty;
    message = 'is not a parameter of this function';
  } else if (e.keyword === 'enum' && extra.allowedValues) {
    message = `must be one of ${extra.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const parameter = field ? `params.${field}` : 'params';
  return new AppError(
    e.keyword === 'required' ? 'missing_parameter' : 'invalid_parameter',
    `${parameter}: ${message}`,
    { parameter },
  );
}

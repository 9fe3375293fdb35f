/**
 * The layer rules (README, Development), checked on the import graph of src/:
 * every `import`, `export … from` and `import()` of every file, read with the TypeScript parser.
 *
 *   server ──> http ──> views ──> scene ──> imaging        errors.ts, util/ <── everyone
 *                ├───> render ──> views, scene, imaging
 *                ├───> jobs ──> scene, imaging, render
 *                ├───> dicom ──> imaging   (archive.ts is its only door)
 *                └───> bridge ──> dicom, scene, imaging
 *   workers ──> domain code only (imaging, scene, dicom, render, bridge); never http or server
 *   (a domain module may import the worker files it starts, and their message types)
 *
 * Each rule lists the files that break it; a rule with known exceptions names them with the
 * issue that removes them, and fails when one is fixed (so the list only shrinks).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { PACKAGE_ROOT } from '../src/util/package.js';

interface Import {
  /** The file that imports (relative to the package root, e.g. `src/http/slicer.ts`). */
  from: string;
  /** A package name (`hono`, `node:fs`, `@hono/node-server/conninfo`) or a src path (`src/scene/scene.ts`). */
  to: string;
  /** `import type` / `export type` (erased at run time). */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(PACKAGE_ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(PACKAGE_ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

function importsOf(file: string): { imports: Import[]; text: string } {
  const text = readFileSync(path.join(PACKAGE_ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    const to = spec.startsWith('.')
      ? path.posix
          .normalize(path.posix.join(path.posix.dirname(file), spec))
          .replace(/\.js$/, '.ts')
      : spec;
    out.push({ from: file, to, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.phaseModifier === ts.SyntaxKind.TypeKeyword ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { imports: out, text };
}

const FILES = sourceFiles('src');
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));
const ALL_IMPORTS = [...GRAPH.values()].flatMap((g) => g.imports);

const inDir = (dir: string) => (p: string) => p.startsWith(`src/${dir}/`);
const isHono = (to: string) => to === 'hono' || to.startsWith('hono/') || to.startsWith('@hono/');
const SHARED = (to: string) => to === 'src/errors.ts' || to.startsWith('src/util/');

interface Rule {
  name: string;
  /** Which importing files the rule is about. */
  files: (file: string) => boolean;
  /** Whether an import breaks the rule. */
  forbidden: (i: Import) => boolean;
  /** Files known to break the rule today, with the issue that fixes them. */
  known?: Record<string, string>;
}

/** Only these src folders and shared modules (plus any package) may be imported. */
const onlyFolders =
  (...dirs: string[]) =>
  (i: Import): boolean =>
    i.to.startsWith('src/') && !SHARED(i.to) && !dirs.some((d) => inDir(d)(i.to));

const DOMAIN = [
  'imaging',
  'scene',
  'views',
  'render',
  'jobs',
  'dicom',
  'bridge',
  'workers',
  'util',
];

const RULES: Rule[] = [
  {
    name: 'domain modules import no hono (only http/ and server/ know HTTP)',
    files: (f) => DOMAIN.some((d) => inDir(d)(f)),
    forbidden: (i) => isHono(i.to),
  },
  {
    name: 'imaging/ is pure computation: no fs, no process, no child processes, no hono, no other layer',
    files: inDir('imaging'),
    forbidden: (i) =>
      /^(node:)?(fs|fs\/promises|child_process|process|net|http|http2)$/.test(i.to) ||
      isHono(i.to) ||
      onlyFolders('imaging')(i),
  },
  {
    name: 'scene/ imports only imaging/ and its own workers (never views, render, dicom, bridge, http, server)',
    files: inDir('scene'),
    forbidden: onlyFolders('scene', 'imaging', 'workers'),
  },
  {
    name: 'views/ imports only scene/ and imaging/ (never http, render or server)',
    files: inDir('views'),
    forbidden: onlyFolders('views', 'scene', 'imaging'),
  },
  {
    name: 'render/ imports only views/, scene/, imaging/ and its own workers',
    files: inDir('render'),
    forbidden: onlyFolders('render', 'views', 'scene', 'imaging', 'workers'),
  },
  {
    name: 'jobs/ imports only scene/, imaging/, render/ (shared voxel memory) and its own workers',
    files: inDir('jobs'),
    forbidden: onlyFolders('jobs', 'scene', 'imaging', 'render', 'workers'),
  },
  {
    name: 'dicom/ (the archive) imports only imaging/ and its own workers: never the scene, bridge, http or server',
    files: inDir('dicom'),
    forbidden: onlyFolders('dicom', 'imaging', 'workers'),
  },
  {
    name: 'bridge/ (DICOM <-> scene) imports only dicom/, scene/ and imaging/',
    files: inDir('bridge'),
    forbidden: onlyFolders('bridge', 'dicom', 'scene', 'imaging'),
  },
  {
    name: 'workers import only domain code (never http or server)',
    files: inDir('workers'),
    forbidden: (i) => isHono(i.to) || onlyFolders(...DOMAIN)(i),
  },
  {
    name: 'http/ imports no server/ code at run time (types of the context and config only)',
    files: inDir('http'),
    forbidden: (i) => inDir('server')(i.to) && !i.typeOnly,
  },
  {
    name: 'nothing outside src/dicom imports the catalog or the store (archive.ts is the door)',
    files: (f) => !inDir('dicom')(f),
    // the index and storage implementations behind the facade (#16)
    forbidden: (i) =>
      [
        'src/dicom/catalog.ts',
        'src/dicom/catalog-pg.ts',
        'src/dicom/search-sql.ts',
        'src/dicom/store.ts',
        'src/dicom/store-pg.ts',
        'src/dicom/store-memory.ts',
      ].includes(i.to),
  },
];

/** Text rules: what the import graph cannot see. */
const TEXT_RULES: Array<{
  name: string;
  files: (f: string) => boolean;
  pattern: RegExp;
  known?: Record<string, string>;
}> = [
  {
    name: 'imaging/ reads no process state (process.env, argv, cwd, exit)',
    files: inDir('imaging'),
    pattern: /\bprocess\.(env|argv|cwd|exit|stdout|stderr|stdin)\b/,
  },
  {
    name: 'only server/cli.ts reads process.argv / process.env or exits',
    // (ts-bootstrap.mjs reads its own worker's argv: the worker module its parent asked for.)
    files: (f) => !['src/server/cli.ts', 'src/main.ts', 'src/workers/ts-bootstrap.mjs'].includes(f),
    pattern: /\bprocess\.(argv|env|exit)\b/,
  },
  {
    name: 'nothing outside src/dicom reaches into the catalog through the archive (`.catalog.`)',
    files: (f) => !inDir('dicom')(f),
    pattern: /\.catalog\./,
  },
];

function check(name: string, broken: string[], known: Record<string, string> = {}) {
  const unexpected = broken.filter((b) => !Object.hasOwn(known, b.split(' ')[0] ?? ''));
  assert.deepEqual(unexpected, [], `${name}:\n  ${unexpected.join('\n  ')}`);
  const fixed = Object.keys(known).filter((k) => !broken.some((b) => b.startsWith(`${k} `)));
  assert.deepEqual(
    fixed,
    [],
    `${name}: these files no longer break the rule; remove them from its known list`,
  );
}

describe('architecture: layer rules on the import graph of src/', () => {
  it('the graph is read (sanity: it sees the route table and its handlers)', () => {
    assert.ok(FILES.length > 50, `${FILES.length} files`);
    assert.ok(
      ALL_IMPORTS.some(
        (i) => i.from === 'src/http/slicer.ts' && i.to === 'src/http/slicer/slice.ts',
      ),
    );
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const broken = ALL_IMPORTS.filter((i) => rule.files(i.from) && rule.forbidden(i)).map(
        (i) => `${i.from} imports ${i.to}${i.typeOnly ? ' (type)' : ''}`,
      );
      check(rule.name, broken, rule.known);
    });
  }

  for (const rule of TEXT_RULES) {
    it(rule.name, () => {
      const broken = FILES.filter((f) => rule.files(f)).flatMap((f) =>
        GRAPH.get(f)!
          .text.split('\n')
          .flatMap((line, n) =>
            rule.pattern.test(line) && !/^\s*(\*|\/\/)/.test(line)
              ? [`${f} line ${n + 1}: ${line.trim()}`]
              : [],
          ),
      );
      check(rule.name, broken, rule.known);
    });
  }
});

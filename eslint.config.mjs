// ESLint flat config: typescript-eslint's strict and stylistic type-checked rules on every
// TypeScript file (src, test, scripts), with eslint-config-prettier last (formatting is
// Prettier's job). Options below loosen a rule only where the reason is stated.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'docroot/**', '**/*.mjs', '**/*.js', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tsconfig has noUncheckedIndexedAccess, so every typed-array and tuple read by a computed
      // index is `T | undefined`; in the voxel loops the bounds prove the index, and `!` says so
      // where it is read. Forbidding `!` would mean a runtime check per voxel or a cast.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers, booleans and arrays of them print as expected in messages; objects, null and
      // undefined do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowArray: true },
      ],
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      // `(x) => void f(x)`-style shorthand callbacks are clear enough.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // No-op callbacks (`() => {}` for listeners, noop loggers) are intentional.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
      // The codebase's style: `T[]` for simple element types, `Array<…>` for complex ones.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Deleting a known key (a DICOM tag constant, a view layer name) from a JSON-shaped record
      // keeps the record's shape; a Map would not serialise as the JSON the record stands for.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // `_name` marks a deliberately unused binding (destructuring to drop a field).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests read JSON bodies (`res.json()`, supertest's `res.body`: `any`) and assert on them
    // field by field: the assertion is the type check, so a cast per read would add nothing.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Teardown hooks and assertions guard against what the types promise: a failed `before`
      // leaves `let` bindings unassigned, and a wrong server answer is what the test looks for.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    // Values crossing a worker or plug-in boundary (worker messages, plug-in modules, job
    // results): the types state what is expected; the checks are for what actually arrives.
    files: ['src/jobs/**/*.ts', 'src/workers/job-worker.ts'],
    rules: {
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
    },
  },
  {
    // Code run inside the browser page by playwright (`page.evaluate`): the page's globals
    // (`document`, the viewer's `voxelgate` debug object) have no types in this Node project.
    files: ['test/browser/**/*.ts', 'scripts/screenshots.ts', 'scripts/slow-server.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  prettier,
);

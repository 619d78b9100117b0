// @ts-check
/**
 * Module boundaries (DESIGN §6 rule 2), checked by `npm run lint:deps` (part of `npm test`):
 *   - no import cycles;
 *   - a feature reaches another only through its index.ts, and nothing outside a feature reaches past it;
 *     in particular a feature's *.store.ts (its SQL) is imported only by its own feature;
 *   - kernel/ imports nothing else of ours;
 *   - only *.routes.ts, app.ts and http/ itself import http/;
 *   - the lower layers (config, db, crypto, kernel, net) never import features, http, app, main or cli;
 *   - the SDK (packages/node/src) imports nothing of the server, and the examples reach Tessera only through the SDK.
 * This is the one source of truth for these rules (eslint's no-restricted-imports copies were removed).
 * Type-only imports count: a type is a dependency too. "SQL only in *.store.ts" and "one owner per table"
 * are tests (test/architecture/), since they are about what a file contains, not what it imports.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make the build order and the boundaries meaningless (DESIGN §6 rule 2: no cycles).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'feature-through-index',
      severity: 'error',
      comment: 'A feature reaches another only through its index.ts (DESIGN §6 rule 2).',
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/[^/]+/', pathNot: ['^src/features/$1/', '^src/features/[^/]+/index\\.ts$'] },
    },
    {
      name: 'outside-through-index',
      severity: 'error',
      comment: 'app.ts, main.ts, cli/, http/ and the lower layers reach a feature only through its index.ts.',
      from: { path: '^src/', pathNot: '^src/features/' },
      to: { path: '^src/features/[^/]+/', pathNot: '^src/features/[^/]+/index\\.ts$' },
    },
    {
      name: 'store-inside-its-feature',
      severity: 'error',
      comment: "A *.store.ts holds its feature's SQL: only that feature imports it (one owner per table).",
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/[^/]+/[^/]+\\.store\\.ts$', pathNot: '^src/features/$1/' },
    },
    {
      name: 'kernel-imports-nothing',
      severity: 'error',
      comment: 'kernel/ (AppError, ids, Clock) imports nothing else of ours (DESIGN §6).',
      from: { path: '^src/kernel/' },
      to: { path: '^src/', pathNot: '^src/kernel/' },
    },
    {
      name: 'http-only-from-routes',
      severity: 'error',
      comment: 'Only *.routes.ts and app.ts import http/ (DESIGN §6 rule 2): services and stores know nothing of HTTP.',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/app\\.ts$', '\\.routes\\.ts$', '\\.test\\.ts$'] },
      to: { path: '^src/http/' },
    },
    {
      name: 'lower-layers-stay-low',
      severity: 'error',
      comment: 'config/, db/, crypto/, kernel/ and net/ never import features, http, app, main or cli (DESIGN §6).',
      from: { path: '^src/(config|db|crypto|kernel|net)/' },
      to: { path: '^src/(features/|http/|cli/|app\\.ts$|main\\.ts$)' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: 'packages/node is published on its own (npm): its sources import only themselves and their npm dependencies, never the server, the tests or the console.',
      from: { path: '^packages/([^/]+)/src/' },
      to: { path: '^(src|test|console|examples|scripts)/|^packages/', pathNot: '^packages/$1/src/' },
    },
    {
      name: 'examples-use-the-sdk-only',
      severity: 'error',
      comment: "An example is a customer's application: it reaches Tessera over HTTP and through the SDK, never through the server's code.",
      from: { path: '^examples/[^/]+/src/' },
      to: { path: '^(src|test|console|scripts)/' },
    },
  ],
  options: {
    includeOnly: '^(src|packages|examples|test|console|scripts)/',
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

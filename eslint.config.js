// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Style is left to the compiler; these rules keep the architecture visible (DESIGN §6 rule 2):
 * kernel/ imports nothing of ours; features talk to each other only through index.ts; only routes and
 * app.ts import http/; the lower layers (config, db, crypto) never reach up into features or http.
 */
const restrict = (...patterns) => ['error', { patterns }];

const featureInternals = {
  regex: '^\\.\\./(?!\\.\\.)[^/]+/(?!index\\.js$).+',
  message: 'Another feature is reached only through its index.ts.',
};
const httpFromNonRoutes = { regex: '^(\\.\\./)+http/', message: 'Only *.routes.ts files and app.ts import http/.' };
const upward = { regex: '^\\.\\./(features|http|app|main|cli)(/|\\.js$)', message: 'Lower layers never import features, http, app or cli.' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tessera/**', 'console/dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  { files: ['src/kernel/**/*.ts'], rules: { 'no-restricted-imports': restrict({ regex: '^\\.\\./', message: 'kernel/ imports nothing else of ours.' }) } },
  { files: ['src/config/**/*.ts', 'src/db/**/*.ts', 'src/crypto/**/*.ts'], rules: { 'no-restricted-imports': restrict(upward) } },
  { files: ['src/features/**/*.ts'], ignores: ['src/features/**/*.routes.ts'], rules: { 'no-restricted-imports': restrict(featureInternals, httpFromNonRoutes) } },
  { files: ['src/features/**/*.routes.ts'], rules: { 'no-restricted-imports': restrict(featureInternals) } },
  { files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*', '**/*.test.ts'], rules: { 'no-console': 'off' } },
);

// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Style is left to the compiler. The module boundaries (DESIGN §6 rule 2) are checked by dependency-cruiser
 * (.dependency-cruiser.cjs, `npm run lint:deps`), their one source of truth.
 *
 * Type-aware rules (`recommendedTypeChecked`) run on every file tsconfig.json includes; the JavaScript config
 * files and scripts are outside any tsconfig, so they get the syntactic rules only.
 */
export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tessera/**', 'console/dist/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*', '**/*.test.ts'], rules: { 'no-console': 'off' } },
);

// Lint: the recommended sets, a few type-aware rules a gateway needs (a dropped promise is a
// dropped error or an unawaited audit write), and Gatehouse's own rules (lint/), one per bug
// class already fixed once. Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import gatehouse from './lint/plugin.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/guard/corpus/**', 'test/lint/fixtures/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { gatehouse },
    rules: {
      'no-mixed-operators': ['error', { groups: [['&&', '||']] }],
      // The guard, the scrubber and input checks look for control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'gatehouse/header-as-string': 'error',
      'gatehouse/media-type-match': 'error',
      'gatehouse/public-face': 'error',
      'gatehouse/text-cut': 'error',
    },
  },
  {
    // Plain JS: the lint rules themselves and the bench/test fixtures Node runs directly.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly', Request: 'readonly' },
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests and benches cut and match text freely (they assert on it); the fixtures of the rules' own
    // test are linted with every rule on.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['test/lint/fixtures/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'gatehouse/text-cut': 'off',
      'gatehouse/media-type-match': 'off',
      'gatehouse/header-as-string': 'off',
    },
  },
);

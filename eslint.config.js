import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.d.ts', 'lab/**']},
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // oclif's run(), catch() and finally() are async by contract, with or without an await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-expressions': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/only-throw-error': 'error',
      // The adapters are the only code allowed to touch these libraries (DESIGN.md section 4).
      'no-restricted-imports': ['error', {paths: [
        {name: 'ssh2', message: 'Only src/lib/ssh/ may import ssh2.'},
        {name: 'proxmox-api', message: 'Only src/lib/proxmox/ may import proxmox-api.'},
        {name: '@kubernetes/client-node', message: 'Only src/lib/kube/ may import @kubernetes/client-node.'},
        {name: 'execa', message: 'Only src/lib/exec/ may import execa.'},
      ]}],
    },
  },
  {files: ['src/lib/ssh/**'], rules: {'no-restricted-imports': 'off'}},
  {files: ['src/lib/proxmox/**'], rules: {'no-restricted-imports': 'off'}},
  {files: ['src/lib/kube/**'], rules: {'no-restricted-imports': 'off'}},
  {files: ['src/lib/exec/**'], rules: {'no-restricted-imports': 'off'}},
  {files: ['src/lib/lab/**', 'test/**', 'bench/**'], rules: {'no-restricted-imports': 'off'}},
  {files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked},
  {files: ['**/*.js', '**/*.mjs'], languageOptions: {globals: globals.node}},
)

import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/*
 * Imports point down (DESIGN.md §4): commands → engine/workflows → steps → domain modules → adapters.
 * Checked on static imports, `export … from`, lazy `import()` and `typeof import()` alike: kp imports
 * heavy modules lazily, and a lazy import that points up is as much a dependency as a static one.
 */

/** A library only its adapter may import (ssh2 and friends never leak into the rest of kp). */
const LIBRARIES = [
  {name: 'ssh2', owner: 'src/lib/ssh/'},
  {name: 'proxmox-api', owner: 'src/lib/proxmox/'},
  {name: 'undici', owner: 'src/lib/proxmox/'},
  {name: '@kubernetes/client-node', owner: 'src/lib/kube/'},
  {name: 'execa', owner: 'src/lib/exec/'},
]

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, (c) => (c === '/' ? '\\x2F' : `\\${c}`))
/** A relative import that goes through one of these folders (kp has one folder of each name). */
const folders = (...names) => `^\\.\\.?\\x2F(?:.*\\x2F)?(?:${names.join('|')})(?:\\x2F|$)`
const UP = {
  adapterPeers: {
    regex: folders('vm', 'kubeadm', 'kubeconfig', 'health', 'preflight', 'net', 'lab', 'etcd'),
    message: 'An adapter (ssh, proxmox, kube, exec) does not use the domain modules above it; pass what it needs in.',
  },
  commands: {regex: folders('commands'), message: 'Nothing under src/lib imports a command: commands call down into src/lib, never the other way.'},
  engine: {regex: folders('engine'), message: 'Only commands and workflows use the engine; pass what a module needs as arguments or callbacks.'},
  prompts: {regex: '^@inquirer\\x2Fprompts(?:\\x2F|$)', message: 'Only the command layer (and the engine\'s confirmation) asks the operator: take a callback instead.'},
  workflows: {regex: folders('workflows'), message: 'Workflows sit above this module: move what both need below the workflows (e.g. into src/lib/vm/), or let the command hand the workflow over.'},
}

/** no-restricted-imports and no-restricted-syntax options for a folder: a later block replaces, never merges, so each block lists all. */
function imports({allow = [], up = []}) {
  const libraries = LIBRARIES.filter((l) => !allow.includes(l.name)).map((l) => ({
    regex: `^${escape(l.name)}(?:\\x2F|$)`,
    message: `Only ${l.owner} may import ${l.name} (its adapter).`,
  }))
  const rules = [...libraries, ...up.map((u) => UP[u])]
  return {
    'no-restricted-imports': ['error', {patterns: rules.map(({message, regex}) => ({message, regex}))}],
    'no-restricted-syntax': [
      'error',
      ...rules.flatMap(({message, regex}) => [
        {message, selector: `ImportExpression[source.value=/${regex}/]`},
        {message, selector: `TSImportType[argument.literal.value=/${regex}/]`},
      ]),
    ],
  }
}

const ADAPTERS = ['ssh', 'proxmox', 'kube', 'exec']
const DOMAIN = ['vm', 'config', 'kubeadm', 'kubeconfig', 'health', 'preflight', 'net', 'etcd']

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
      // The command layer (src/commands/, base-command.ts, node-ssh.ts) may import any of kp, never the libraries.
      ...imports({}),
    },
  },
  // The layers below the commands, top to bottom.
  {files: ['src/lib/**'], rules: imports({up: ['commands']})},
  {files: ['src/lib/workflows/**'], rules: imports({up: ['commands', 'prompts']})},
  {files: ['src/lib/engine/**'], rules: imports({up: ['commands', 'workflows']})},
  {
    files: [...DOMAIN.map((d) => `src/lib/${d}/**`), 'src/lib/*.ts'],
    ignores: ['src/lib/base-command.ts', 'src/lib/node-ssh.ts'],
    rules: imports({up: ['commands', 'engine', 'workflows']}),
  },
  ...ADAPTERS.map((adapter) => ({
    files: [`src/lib/${adapter}/**`],
    rules: imports({
      allow: LIBRARIES.filter((l) => l.owner === `src/lib/${adapter}/`).map((l) => l.name),
      up: ['commands', 'engine', 'workflows', 'prompts', 'adapterPeers'],
    }),
  })),
  // The lab drives real processes and fakes every server: it may use any library, never kp's upper layers.
  {files: ['src/lib/lab/**'], rules: imports({allow: LIBRARIES.map((l) => l.name), up: ['commands', 'engine', 'workflows']})},
  {files: ['test/**', 'bench/**'], rules: {'no-restricted-imports': 'off', 'no-restricted-syntax': 'off'}},
  {files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked},
  {files: ['**/*.js', '**/*.mjs'], languageOptions: {globals: globals.node}},
)

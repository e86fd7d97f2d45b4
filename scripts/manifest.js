#!/usr/bin/env node
// npm run build (and so prepack): writes oclif.manifest.json from the compiled dist/commands, so that
// at start-up oclif reads one JSON file instead of importing every command module to learn its flags.
// @oclif/core's own Plugin builds it, the way the `oclif manifest` command does. oclif only checks
// the manifest's version against package.json, so a stale one would silently hide new commands and
// flags: it is an untracked build artefact (.gitignore), rebuilt from scratch by every build, and
// refused when dist/ holds a command whose source is gone (a stale dist/ would list it).
import {existsSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {Plugin} from '@oclif/core'

const root = path.resolve(import.meta.dirname, '..')
const file = path.join(root, 'oclif.manifest.json')
rmSync(file, {force: true})

const compiled = path.join(root, 'dist', 'commands')
const orphans = readdirSync(compiled, {recursive: true})
  .filter((f) => f.endsWith('.js'))
  .filter((f) => !existsSync(path.join(root, 'src', 'commands', f.replace(/\.js$/, '.ts'))))
if (orphans.length > 0) {
  process.stderr.write(`manifest: dist/commands holds ${orphans.join(', ')} without a source in src/commands; run npm run clean && npm run build\n`)
  process.exit(1)
}

const plugin = new Plugin({errorOnManifestCreate: true, ignoreManifest: true, isRoot: true, respectNoCacheDefault: true, root, type: 'core'})
await plugin.load()
writeFileSync(file, `${JSON.stringify(plugin.manifest, null, 2)}\n`)

#!/usr/bin/env node
import module from 'node:module'

// Node >= 22.1 keeps compiled code of kp and oclif on disk between runs (start-up time); Node 20 has no cache.
module.enableCompileCache?.()
// @oclif/core's index checks its own engines range with semver on import (tens of ms); kp's package.json engines already covers it.
const ownSwitch = !('OCLIF_DISABLE_ENGINE_WARNING' in process.env)
if (ownSwitch) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute, settings} = await import('@oclif/core')
// Not passed on to the commands kp runs.
if (ownSwitch) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

// The published CLI always runs the compiled dist/. Without this, oclif looks for TypeScript
// sources whenever NODE_ENV is "test" or "development" (inherited from a test runner, say) and, on
// Node versions that can strip types, warns on stderr that it found none.
settings.enableAutoTranspile = false

await execute({dir: import.meta.url})

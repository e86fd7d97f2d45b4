#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// The published CLI always runs the compiled dist/. Without this, oclif looks for TypeScript
// sources whenever NODE_ENV is "test" or "development" (inherited from a test runner, say) and, on
// Node versions that can strip types, warns on stderr that it found none.
settings.enableAutoTranspile = false

await execute({dir: import.meta.url})

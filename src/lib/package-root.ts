import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

let cached: string | undefined

/** The folder holding kp's package.json, runbooks/ and playbooks/, from src/ or dist/ alike. */
export function packageRoot(): string {
  if (cached) return cached
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('kp cannot find its own package.json')
    dir = parent
  }

  cached = dir
  return dir
}

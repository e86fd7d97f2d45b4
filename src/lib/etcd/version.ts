import {readFileSync} from 'node:fs'
import path from 'node:path'

import {packageRoot} from '../package-root.js'

/** kp's own version (package.json), recorded in each backup's sidecar. */
export function kpVersion(): string {
  try {
    const {version} = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {version?: unknown}
    return typeof version === 'string' ? version : 'unknown'
  } catch {
    return 'unknown'
  }
}

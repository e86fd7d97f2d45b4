import {appendFileSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import {redact} from '../redact.js'

/** The per-run log file: every step's lines and remote commands, secrets redacted. */
export class RunLog {
  constructor(readonly file: string | undefined) {
    if (file) mkdirSync(path.dirname(file), {mode: 0o700, recursive: true})
  }

  write(scope: string, message: string): void {
    if (!this.file) return
    const lines = redact(message).split('\n')
    const stamp = new Date().toISOString()
    appendFileSync(this.file, lines.map((line) => `${stamp} [${scope}] ${line}\n`).join(''), {mode: 0o600})
  }
}

/** Verify the snapshot: on the laptop, before it is copied anywhere. */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'

import type {Step} from '../../engine/types.js'
import {StepFailedError} from '../../errors.js'
import type {RestoreFacts, RestoreParams} from './facts.js'

export const verifySnapshot: Step<RestoreFacts, RestoreParams> = {
  id: 'verify-snapshot',
  title: 'Verify the snapshot',
  plan: (ctx) => [`check the SHA-256 of ${ctx.params.file} against its sidecar`],
  async run(ctx) {
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(ctx.params.file)) hash.update(chunk as Buffer)
    const actual = hash.digest('hex')
    if (actual !== ctx.facts.snapshot.sha256) {
      throw new StepFailedError(`${ctx.params.file} has changed since kp wrote it: its SHA-256 is ${actual}, the sidecar says ${ctx.facts.snapshot.sha256}; nothing was changed`, {
        hint: 'restore another snapshot (kp backup list)',
      })
    }
  },
}

/** Verify the snapshot: on the laptop, before it is copied anywhere. */
import type {Step} from '../../engine/types.js'
import {readSidecar, verifyBackup} from '../../etcd/backups.js'
import {StepFailedError} from '../../errors.js'
import type {RestoreFacts, RestoreParams} from './facts.js'

export const verifySnapshot: Step<RestoreFacts, RestoreParams> = {
  id: 'verify-snapshot',
  title: 'Verify the snapshot',
  plan: (ctx) => [`check ${ctx.params.file}: its SHA-256 against the sidecar, etcd's own hash, bolt's meta pages`],
  async run(ctx) {
    const result = await verifyBackup(ctx.params.file, readSidecar(ctx.params.file), ctx.signal)
    if (!result.ok) throw new StepFailedError(`${ctx.params.file} is not sound: ${result.problems.join('; ')}; nothing was changed`, {hint: 'restore another snapshot ("kp backup list" verifies each)'})
  },
}

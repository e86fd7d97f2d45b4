/**
 * `kp lab publish-update`: publishes newer versions of node-image packages into the running lab's
 * updates repository (src/lib/lab/host/updates.ts), which every lab VM has as an apt source.
 */
import {UsageError} from '../../errors.js'
import {createLabHost} from '../host/index.js'
import {type PublishedPackage, UPDATES_URL_PATH, updatesSourceLine} from '../host/updates.js'
import {labPaths} from './files.js'
import {liveStatus} from './status.js'
import {labDir} from './up.js'

export interface PublishUpdateResult {
  published: PublishedPackage[]
  /** The repository's URL and the source line every lab VM has for it. */
  repoUrl: string
  sourceLine: string
}

export interface PublishUpdateOptions {
  packages: readonly string[]
  rebootRequired?: boolean
  version?: string
}

export async function labPublishUpdate(stateDir: string, options: PublishUpdateOptions): Promise<PublishUpdateResult> {
  const paths = labPaths(labDir(stateDir))
  const live = liveStatus(paths.status)
  if (live?.phase !== 'ready' || !live.repoBaseUrl) throw new UsageError(`no lab is running in ${paths.dir}`, {hint: 'start one with kp lab up, then publish'})
  const lab = createLabHost({stateDir: paths.dir})
  const published = await lab.publishUpdates({packages: options.packages, ...(options.rebootRequired ? {rebootRequired: true} : {}), ...(options.version === undefined ? {} : {version: options.version})})
  return {published, repoUrl: `${live.repoBaseUrl}/${UPDATES_URL_PATH}/`, sourceLine: updatesSourceLine(live.repoBaseUrl)}
}

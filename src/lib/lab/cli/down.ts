/**
 * `kp lab down`: asks the supervisor to stop (it tears down what it owns), then tears down whatever a
 * crashed supervisor left (processes, mounts, namespaces, links), then removes the lab folder. The
 * image and package cache stays, so the next `kp lab up` is fast.
 */
import {existsSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import {preflight, teardownLab, type TeardownReport} from '../host/index.js'
import {pidAlive} from '../host/lock.js'
import {callSupervisor} from './control.js'
import {labPaths} from './files.js'
import {readStatus} from './status.js'
import {labDir} from './up.js'

export interface LabDownResult {
  dir: string
  /** Whether the folder (VM disks, kp.yaml, secrets, key) was removed. */
  removed: boolean
  /** What the final sweep still found and removed (all zero after a clean supervisor stop). */
  leftovers: TeardownReport
  supervisor: 'none' | 'stopped' | 'killed'
}

export async function labDown(stateDir: string, options: {keep?: boolean} = {}): Promise<LabDownResult> {
  preflight(['ip', 'umount'])
  const paths = labPaths(labDir(stateDir))
  const status = readStatus(paths.status)
  let supervisor: LabDownResult['supervisor'] = 'none'
  if (status && pidAlive(status.pid)) {
    supervisor = 'stopped'
    try {
      await callSupervisor(paths.socket, 'POST', '/stop', {}, 5000)
    } catch {
      // Still starting (no socket yet) or wedged: SIGTERM runs the same teardown.
      process.kill(status.pid, 'SIGTERM')
    }

    const deadline = Date.now() + 60_000
    while (pidAlive(status.pid) && Date.now() < deadline) await sleep(100)
    if (pidAlive(status.pid)) {
      process.kill(status.pid, 'SIGKILL')
      supervisor = 'killed'
    }
  }

  const leftovers = await teardownLab({stateDir: paths.dir}, {purge: !options.keep && existsSync(paths.dir)})
  return {dir: paths.dir, leftovers, removed: !options.keep, supervisor}
}

import {describe, expect, it} from 'vitest'

import {type CloneProbe, recoverClone} from '../../src/lib/proxmox/clone-recovery.js'
import {ProxmoxError, ProxmoxTaskError} from '../../src/lib/proxmox/errors.js'
import type {PveVmConfig} from '../../src/lib/proxmox/types.js'

const UPID = 'UPID:pve1:0004A3F1:01B2C3D4:6741A2B0:qmclone:9000:kp@pve!automation:'

/** A probe whose clone task is running and ends as `outcome`, leaving `after` as the new VM's config. */
function probe(outcome: 'ok' | 'fail', after: PveVmConfig | undefined): CloneProbe & {waited: string[]} {
  let done = false
  const waited: string[] = []
  return {
    clonesSincePost: async () => [],
    configIfExists: async () => (done ? after : {lock: 'clone'}),
    finishedClone: async () => undefined,
    runningTasks: async () => (done ? [] : [{status: 'running', type: 'qmclone', upid: UPID}]),
    waitTask: async (upid) => {
      waited.push(upid)
      done = true
      if (outcome === 'fail') throw new ProxmoxTaskError({exitstatus: 'clone failed: no space', logTail: [], type: 'qmclone', upid, vmid: '9000'})
      return {exitstatus: 'OK', upid}
    },
    waited,
  }
}

const options = {name: 'cp-1', newid: 201, templateVmid: 9000, windowMs: 100}
const postError = () => new ProxmoxError('POST /nodes/pve1/qemu/9000/clone: 500 Internal Server Error', {status: 500, transient: true})

describe('clone recovery', () => {
  it('waits for the clone found running and returns its result', async () => {
    const p = probe('ok', {name: 'cp-1'})
    await expect(recoverClone({...options, probe: p}, postError())).resolves.toEqual({result: {exitstatus: 'OK', upid: UPID}})
    expect(p.waited).toEqual([UPID])
  })

  it('throws the task error when the one clone found running fails', async () => {
    const p = probe('fail', undefined)
    await expect(recoverClone({...options, probe: p}, postError())).rejects.toBeInstanceOf(ProxmoxTaskError)
  })

  it('refuses a VM that has the id but not the name', async () => {
    const p = probe('ok', {name: 'someone-else'})
    await expect(recoverClone({...options, probe: p}, postError())).rejects.toThrow(/VM 201 exists but is named someone-else/)
  })

  it('reports a clone lock left without a running clone', async () => {
    const p: CloneProbe = {
      clonesSincePost: async () => [],
      configIfExists: async () => ({lock: 'clone'}),
      finishedClone: async () => undefined,
      runningTasks: async () => [],
      waitTask: async () => ({exitstatus: 'OK', upid: UPID}),
    }
    const error = await recoverClone({...options, probe: p}, postError()).catch((e: unknown) => e as ProxmoxError)
    expect(error).toBeInstanceOf(ProxmoxError)
    expect((error as ProxmoxError).message).toContain('left locked by a clone that no longer runs')
    expect((error as ProxmoxError).hint).toContain('qm unlock 201')
  })

  it('proves a clone did not start: no VM, nothing running, no clone task since the POST', async () => {
    const p: CloneProbe = {
      clonesSincePost: async () => [],
      configIfExists: async () => undefined,
      finishedClone: async () => undefined,
      runningTasks: async () => [],
      waitTask: async () => ({exitstatus: 'OK', upid: UPID}),
    }
    await expect(recoverClone({...options, probe: p}, postError())).resolves.toEqual({notStarted: true})
  })

  it('does not call a clone unstarted when a clone of the template started since the POST and left no VM', async () => {
    const p: CloneProbe = {
      clonesSincePost: async () => [{status: 'clone failed: no space', type: 'qmclone', upid: UPID}],
      configIfExists: async () => undefined,
      finishedClone: async () => undefined,
      runningTasks: async () => [],
      waitTask: async () => ({exitstatus: 'OK', upid: UPID}),
    }
    const error = await recoverClone({...options, probe: p}, postError()).catch((e: unknown) => e as ProxmoxError)
    expect((error as ProxmoxError).message).toContain(`a clone of template 9000 started meanwhile (${UPID}, clone failed: no space)`)
  })
})

import {readFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {MemoryBackend, startFakeProxmox} from '../../../src/lib/lab/proxmox/index.js'
import {call, cloneTemplate, FAST_TASKS, labDir, ok, runTask, startLab, type TestLab, TOKEN} from './helpers.js'

const labs: TestLab[] = []
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.server.close()))
})

describe('persistence', () => {
  it('keeps VMs, configs, snapshots and the task archive across a restart from the same state file', async () => {
    const first = await startLab()
    labs.push(first)
    const clone = await cloneTemplate(first.server, 201)
    await ok(call(first.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2, tags: 'k8s'}))
    await runTask(first.server, 'POST', '/nodes/pve1/qemu/201/snapshot', {snapname: 'base'})
    const before = await ok<Record<string, unknown>>(call(first.server, 'GET', '/nodes/pve1/qemu/201/config'))
    await first.server.close()
    labs.pop()

    const second = await startLab({backend: first.backend}, first.dir)
    labs.push(second)
    const after = await ok<Record<string, unknown>>(call(second.server, 'GET', '/nodes/pve1/qemu/201/config'))
    expect(after).toEqual(before)
    const snapshots = await ok<Array<{name: string}>>(call(second.server, 'GET', '/nodes/pve1/qemu/201/snapshot'))
    expect(snapshots.map((s) => s.name)).toEqual(['base', 'current'])
    const task = await ok<Record<string, unknown>>(call(second.server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(clone.upid)}/status`))
    expect(task).toMatchObject({exitstatus: 'OK', status: 'stopped'})
    // The template is not made again, and the next UPIDs do not repeat old ones.
    expect(second.server.vm(9000)?.config.name).toBe('debian-12-cloudinit')
    const next = await cloneTemplate(second.server, 202)
    expect(next.upid).not.toBe(clone.upid)
  })

  it('writes the state file atomically as JSON and keeps certificates beside it', async () => {
    const dir = labDir()
    const stateFile = path.join(dir, 'pve', 'state.json')
    const options = {backend: new MemoryBackend(), stateFile, taskDurations: FAST_TASKS, templates: [{name: 'debian-12-cloudinit', vmid: 9000}], tokens: [TOKEN]}
    const server = await startFakeProxmox(options)
    await cloneTemplate(server, 201)
    await server.close()
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {vms: Record<string, {config: Record<string, string>}>}
    expect(Object.keys(state.vms).sort()).toEqual(['201', '9000'])
    expect(state.vms['201']?.config.name).toBe('vm201')

    const again = await startFakeProxmox(options)
    expect(again.fingerprint).toBe(server.fingerprint)
    expect(readFileSync(path.join(dir, 'pve', 'certs', '127.0.0.1', 'pve-ssl.pem'), 'utf8')).toContain('BEGIN CERTIFICATE')
    await again.close()
  })
})

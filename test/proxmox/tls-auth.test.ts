import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ALL_PRIVILEGES} from '../../src/lib/lab/proxmox/index.js'
import {KP_PRIVILEGES, ProxmoxError} from '../../src/lib/proxmox/client.js'
import {connect, type Lab, rejection, startLab, TOKEN} from './helpers.js'

const CPU_ONLY = {id: 'cpu@pve!only', secret: '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9'}
const WRONG_FINGERPRINT = Array.from({length: 32}, () => 'AB').join(':')

describe('Proxmox adapter: TLS trust', () => {
  let lab: Lab
  beforeAll(async () => {
    lab = await startLab()
  })
  afterAll(() => lab.close())

  it('accepts the pinned certificate, whatever the fingerprint case and colons', async () => {
    const {pve} = connect(lab.server, {fingerprint: lab.server.fingerprint.replace(/:/g, '').toLowerCase()})
    await expect(pve.version()).resolves.toEqual({release: '8.3', version: '8.3.0'})
    await pve.close()
  })

  it('refuses another certificate, naming both fingerprints and how to read the real one', async () => {
    const {pve} = connect(lab.server, {fingerprint: WRONG_FINGERPRINT})
    const error = await rejection(pve.version())
    expect(error).toBeInstanceOf(ProxmoxError)
    expect(error.message).toContain(lab.server.fingerprint)
    expect(error.message).toContain(WRONG_FINGERPRINT)
    expect(error.hint).toContain('pvenode cert info')
    await pve.close()
  })

  it('does not retry a refused certificate', async () => {
    const {logs, pve} = connect(lab.server, {fingerprint: WRONG_FINGERPRINT})
    await rejection(pve.version())
    expect(logs).toHaveLength(1)
    await pve.close()
  })

  it('verifies the chain against a CA file', async () => {
    const caFile = path.join(lab.dir, 'ca.pem')
    writeFileSync(caFile, lab.server.caPem)
    const {pve} = connect(lab.server, {caFile, fingerprint: undefined})
    await expect(pve.version()).resolves.toMatchObject({version: '8.3.0'})
    await pve.close()
  })

  it('refuses a self-signed certificate without a pin or CA, and says how to trust it', async () => {
    const {pve} = connect(lab.server, {fingerprint: undefined})
    const error = await rejection(pve.version())
    expect(error.message).toMatch(/not trusted/)
    expect(error.hint).toMatch(/proxmox\.fingerprint|proxmox\.caFile/)
    await pve.close()
  })

  it('skips verification only when asked, and warns', async () => {
    const {pve, warnings} = connect(lab.server, {fingerprint: undefined, insecureSkipTlsVerify: true})
    await expect(pve.version()).resolves.toMatchObject({version: '8.3.0'})
    expect(warnings.join('\n')).toMatch(/TLS verification .* is OFF/)
    await pve.close()
  })
})

describe('Proxmox adapter: token problems', () => {
  let lab: Lab
  beforeAll(async () => {
    lab = await startLab({tokens: [TOKEN, {...CPU_ONLY, privileges: ['VM.Audit', 'VM.Config.CPU']}]})
  })
  afterAll(() => lab.close())

  it('explains a 401: the token is wrong or unknown, and where to check it', async () => {
    const wrongSecret = '11111111-2222-4333-8444-555555555555'
    const {logs, pve} = connect(lab.server, {tokenSecret: wrongSecret})
    const error = await rejection(pve.version())
    expect(error).toMatchObject({status: 401})
    expect(error.message).toContain(TOKEN.id)
    expect(error.message).toContain('authentication failure')
    expect(error.hint).toContain('proxmox.tokenId')
    expect(error.hint).toContain('tokenSecret')
    expect(`${error.message}${String(error.hint)}${logs.join('')}`).not.toContain(wrongSecret)
    await pve.close()
  })

  it('explains a 403: the missing privilege, and every privilege kp needs', async () => {
    const {pve} = connect(lab.server, {tokenId: CPU_ONLY.id, tokenSecret: CPU_ONLY.secret})
    const error = await rejection(pve.setConfig('pve1', 9000, {memory: 4096}))
    expect(error).toMatchObject({status: 403})
    expect(error.message).toContain('VM.Config.Memory on /vms/9000')
    for (const privilege of ['VM.Allocate', 'VM.Clone', 'VM.Config.Cloudinit', 'VM.PowerMgmt', 'VM.Snapshot.Rollback', 'VM.Monitor', 'Datastore.AllocateSpace', 'SDN.Use']) {
      expect(error.hint).toContain(privilege)
    }

    await pve.close()
  })

  it('lets a token with the privilege through', async () => {
    const {pve} = connect(lab.server, {tokenId: CPU_ONLY.id, tokenSecret: CPU_ONLY.secret})
    await expect(pve.setConfig('pve1', 9000, {cores: 2})).resolves.toBeUndefined()
    await pve.close()
  })

  it('names only privileges that exist', () => {
    // ALL_PRIVILEGES is PVE 8.3's list; the notes in parentheses are for people, not privileges.
    const names = KP_PRIVILEGES.map((p) => p.split(' ')[0])
    expect(ALL_PRIVILEGES).toEqual(expect.arrayContaining(names))
  })
})

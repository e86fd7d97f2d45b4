/**
 * kp resume never replays an earlier attempt's --accept-new-host-keys: a node prepare started with
 * it, that failed before it reached a node, refuses that node's unknown host key on resume unless
 * the resume is given the flag again. Against a real OpenSSH server on 127.0.0.1; the resumes are
 * dry runs, so nothing on this machine is prepared even if the acceptance were replayed.
 */
import {chmodSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runKp, tempDir} from '../helpers/cli.js'
import {cannotRunSshd, createUsers, freePort, Sshd, type TestUsers} from '../ssh/sshd.js'

const skip = cannotRunSshd()
if (skip) console.warn(`skipping the host-key replay test: ${skip}`)

describe.skipIf(skip)('kp resume and --accept-new-host-keys', () => {
  let dir: string
  let users: TestUsers
  let sshd: Sshd
  let config: string

  beforeAll(() => {
    dir = tempDir('kp-prepare-resume-')
    chmodSync(dir, 0o755)
    users = createUsers()
    sshd = new Sshd({dir: path.join(dir, 'node')})
  })

  afterAll(async () => {
    await sshd?.stop()
    users?.remove()
  })

  const stateDir = () => path.join(dir, 'state')
  const knownHosts = () => path.join(stateDir(), 'known_hosts')
  const kp = (args: string[]) => runKp([...args, '-c', config, '--state-dir', stateDir()], {env: {HOME: dir}})

  it('is not replayed: the resume refuses the unknown key until it is given the flag again', async () => {
    // Given a node whose SSH server is not up yet, and a prepare started with --accept-new-host-keys.
    const port = await freePort()
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster: {name: replay, kubernetesVersion: 1.31.9, controlPlaneEndpoint: 127.0.0.1, cni: {manifest: https://example.invalid/cni.yaml}}
network: {gateway: 127.0.0.254, prefix: 8, dns: [127.0.0.254]}
ssh: {user: ${users.sudoer}, port: ${port}, agent: false, identityFile: ${sshd.clientKey}}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 127.0.0.1}
`,
    )
    const first = await kp(['node', 'prepare', '--accept-new-host-keys'])
    expect(first.code, first.stderr).toBe(1)
    expect(first.stderr).toContain('kp resume')
    await sshd.start(port)

    // When it is resumed without the flag.
    const resumed = await kp(['resume', '--dry-run'])

    // Then the key is refused, named, and not pinned.
    expect(resumed.code).toBe(2)
    expect(resumed.stderr).toContain(sshd.fingerprint)
    expect(resumed.stderr).toContain('--accept-new-host-keys')
    expect(existsSync(knownHosts()) ? readFileSync(knownHosts(), 'utf8') : '').not.toContain(sshd.hostKey.key)

    // And given the flag again, the resume pins it.
    await kp(['resume', '--dry-run', '--accept-new-host-keys'])
    expect(readFileSync(knownHosts(), 'utf8')).toContain(sshd.hostKey.key)
  }, 180_000)
})

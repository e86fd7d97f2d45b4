import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {pinHostKey} from '../../src/lib/known-hosts.js'
import {createSshPool, type SshPool} from '../../src/lib/ssh/index.js'
import {kpBin, kpEnv, parseEnvelope, repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {cannotRunSshd, createUsers, Sshd, type TestUsers} from './sshd.js'

describe('kp ssh start-up', () => {
  it('loads ssh2 only when it connects, not for --help', () => {
    const log = path.join(tempDir(), 'modules.log')
    execFileSync(process.execPath, ['--import', path.join(repoRoot, 'test', 'fixtures', 'probe', 'record-modules.mjs'), kpBin, 'ssh', '--help'], {env: kpEnv({KP_MODULE_LOG: log}), stdio: 'pipe'})
    const loaded = readFileSync(log, 'utf8')
    // The probe worked (oclif ran); help comes from oclif.manifest.json, so commands/ssh.js itself need not load.
    expect(loaded).toContain('/node_modules/@oclif/core/')
    expect(loaded).not.toContain('node_modules/ssh2/')
  })
})

const skip = cannotRunSshd()
if (skip) console.warn(`skipping the kp ssh and jump host tests: ${skip}`)

describe.skipIf(skip)('kp ssh and the jump host, against real OpenSSH servers', () => {
  let dir: string
  let users: TestUsers
  let node: Sshd
  let jump: Sshd
  let config: string
  let knownHosts: string
  const pools: SshPool[] = []

  beforeAll(async () => {
    dir = tempDir('kp-ssh-cli-')
    chmodSync(dir, 0o755)
    users = createUsers()
    node = new Sshd({dir: path.join(dir, 'node')})
    jump = new Sshd({dir: path.join(dir, 'jump'), logLevel: 'DEBUG1'})
    await Promise.all([node.start(), jump.start()])
    // One login key for both servers, like an operator's.
    writeFileSync(jump.authorizedKeys, readFileSync(node.authorizedKeys))
    knownHosts = path.join(dir, 'state', 'known_hosts')
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster:
  name: sshtest
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: 127.0.0.1
  cni: {manifest: https://example.invalid/cni.yaml}
network:
  gateway: 127.0.0.254
  prefix: 8
  dns: [127.0.0.254]
ssh:
  user: ${users.sudoer}
  port: ${node.port}
  agent: false
  identityFile: ${node.clientKey}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 127.0.0.1}
`,
    )
  })

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.closeAll()))
    await Promise.all([node?.stop(), jump?.stop()])
    users?.remove()
  })

  const kp = (args: string[]) => runKp(['ssh', '-c', config, '--state-dir', path.join(dir, 'state'), ...args], {env: {HOME: dir}})

  it('refuses an unknown host key without a terminal, with exit 2 and nothing pinned', async () => {
    const {code, stderr} = await kp(['cp1', '--', 'true'])
    expect(stderr).toContain(node.fingerprint)
    expect(stderr).toContain('--accept-new-host-keys')
    expect(code).toBe(2)
    expect(existsSync(knownHosts)).toBe(false)
  })

  it('pins with --accept-new-host-keys, then streams output and exits with the remote exit code', async () => {
    const first = await kp(['cp1', '--accept-new-host-keys', '--', 'echo', 'hi'])
    expect(first).toMatchObject({code: 0, stdout: 'hi\n'})
    expect(readFileSync(knownHosts, 'utf8')).toContain(node.hostKey.key)
    expect(await kp(['cp1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({code: 3, stderr: 'err\n', stdout: 'out\n'})
    expect((await kp(['cp1', '--', 'echo $((40 + 2)) | tr 4 X'])).stdout).toBe('X2\n')
  })

  it('opens an interactive shell on a terminal (a pty from script(1)) and exits with it', () => {
    // The typed line echoes back as typed; only the remote shell turns $((6 * 7)) into 42.
    const typed = "(sleep 2; echo 'echo marker-$((6 * 7))'; sleep 1; echo 'exit 4'; sleep 1)"
    const command = [process.execPath, kpBin, 'ssh', '-c', config, '--state-dir', path.join(dir, 'state'), 'cp1'].map((w) => `'${w}'`).join(' ')
    let out = ''
    let code = 0
    try {
      out = execFileSync('sh', ['-c', `${typed} | script -qec "${command}" /dev/null`], {encoding: 'utf8', env: kpEnv({HOME: dir}), timeout: 30_000})
    } catch (error) {
      const e = error as {status: number; stdout: string}
      code = e.status
      out = e.stdout
    }

    expect(out).toContain('marker-42')
    expect(code).toBe(4)
  })

  it('returns the output in the JSON envelope with --json', async () => {
    const {code, stdout} = await kp(['cp1', '--json', '--', 'sh', '-c', 'echo hi; exit 5'])
    expect(code).toBe(5)
    expect(parseEnvelope(stdout)).toEqual({command: 'ssh', ok: true, result: {code: 5, node: 'cp1', stderr: '', stdout: 'hi\n'}})
  })

  it('needs a command when there is no terminal', async () => {
    const {code, stderr} = await kp(['cp1'])
    expect(code).toBe(2)
    expect(stderr).toContain('kp ssh cp1 -- uptime')
  })

  it('says which node names exist for a wrong one', async () => {
    const {code, stderr} = await kp(['nope', '--', 'true'])
    expect(code).toBe(2)
    expect(stderr).toContain('its nodes are cp1')
  })

  it('reaches a host through the jump host, like ssh -J', async () => {
    const file = path.join(dir, 'jump_known_hosts')
    pinHostKey(file, '127.0.0.1', node.hostKey.type, node.hostKey.key, node.port)
    pinHostKey(file, '127.0.0.1', jump.hostKey.type, jump.hostKey.key, jump.port)
    const pool = createSshPool({identityFile: node.clientKey, jumpHost: {host: '127.0.0.1', port: jump.port, user: users.sudoer}, knownHostsFile: file, readUserKnownHosts: false})
    pools.push(pool)
    const session = await pool.session({host: '127.0.0.1', name: 'cp1', port: node.port, user: users.sudoer})
    expect((await session.exec('echo via jump')).stdout).toBe('via jump\n')
    expect(jump.output).toContain(`target 127.0.0.1 port ${node.port}`)
  })
})

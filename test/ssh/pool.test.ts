import {execFileSync, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {InterruptedError} from '../../src/lib/errors.js'
import {pinHostKey} from '../../src/lib/known-hosts.js'
import {clearSecretsForTests, registerSecret} from '../../src/lib/redact.js'
import {createSshPool, HostKeyChangedError, HostKeyUnknownError, SshCommandError, SshConnectError, SshIdentityError, SudoPasswordError, type SshPool, type SshPoolOptions, type SshTarget} from '../../src/lib/ssh/index.js'
import {tempDir} from '../helpers/cli.js'
import {cannotRunSshd, createUsers, hasSudo, Sshd, type TestUsers} from './sshd.js'

const has = (text: string): unknown => expect.stringContaining(text)
const matches = (re: RegExp): unknown => expect.stringMatching(re)

const skip = cannotRunSshd()
if (skip) console.warn(`skipping the real-sshd SSH tests: ${skip}`)

describe.skipIf(skip)('SSH pool against a real OpenSSH server', () => {
  let dir: string
  let sshd: Sshd
  let users: TestUsers
  let knownHosts: string
  const pools: SshPool[] = []

  const target = (user = users.sudoer): SshTarget => ({host: '127.0.0.1', name: 'n1', port: sshd.port, user})
  const pool = (options: Partial<SshPoolOptions> = {}): SshPool => {
    const p = createSshPool({identityFile: sshd.clientKey, knownHostsFile: knownHosts, readUserKnownHosts: false, ...options})
    pools.push(p)
    return p
  }

  beforeAll(async () => {
    dir = tempDir('kp-ssh-')
    // sshd reads authorized_keys as the logging-in user.
    chmodSync(dir, 0o755)
    users = createUsers()
    sshd = new Sshd({dir: path.join(dir, 'sshd')})
    await sshd.start()
    knownHosts = path.join(dir, 'known_hosts')
    pinHostKey(knownHosts, '127.0.0.1', sshd.hostKey.type, sshd.hostKey.key, sshd.port)
  })

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.closeAll()))
    await sshd?.stop()
    users?.remove()
    clearSecretsForTests()
  })

  it('runs a command line through the remote shell, and argv words quoted', async () => {
    const session = await pool().session(target())
    expect((await session.exec('echo "$((6 * 7))" | tr 4 X')).stdout).toBe('X2\n')
    const words = ['it has spaces', "it's quoted", '$HOME and `date` stay literal', 'back\\slash', '']
    const {stdout} = await session.exec(['printf', '[%s]\\n', ...words])
    expect(stdout).toBe(words.map((w) => `[${w}]\n`).join(''))
  })

  it('passes the exit code through with allowFailure, and throws SshCommandError otherwise', async () => {
    const session = await pool().session(target())
    expect(await session.exec('echo out; echo err >&2; exit 3', {allowFailure: true})).toEqual({code: 3, stderr: 'err\n', stdout: 'out\n'})
    const failing = session.exec(['sh', '-c', 'echo first >&2; echo "last words" >&2; exit 7'])
    await expect(failing).rejects.toBeInstanceOf(SshCommandError)
    await expect(failing).rejects.toMatchObject({code: 7, exitCode: 1, kind: 'ssh', message: matches(/exited with code 7[\s\S]*last words/)})
  })

  it('feeds input to stdin', async () => {
    const session = await pool().session(target())
    expect((await session.exec('wc -c; cat', {input: 'hello\nworld\n'})).stdout).toBe('12\n')
    expect((await session.exec(['sha256sum'], {input: Buffer.from([0, 1, 2, 255])})).stdout).toMatch(/^[0-9a-f]{64} /)
  })

  it.skipIf(!hasSudo)('runs as root with sudo -n for a passwordless sudoer', async () => {
    const session = await pool().session(target())
    expect((await session.exec('id -u; whoami | tr a-z A-Z', {sudo: true})).stdout).toBe('0\nROOT\n')
  })

  it.skipIf(!hasSudo)('says clearly when sudo wants a password', async () => {
    const session = await pool().session(target(users.nopw))
    const run = session.exec('id -u', {allowFailure: true, sudo: true})
    await expect(run).rejects.toBeInstanceOf(SudoPasswordError)
    await expect(run).rejects.toMatchObject({exitCode: 1, hint: has(`${users.nopw} ALL=(ALL) NOPASSWD:ALL`)})
  })

  it.skipIf(!hasSudo)('uploads a root-owned file atomically with its mode and owner', async () => {
    const file = `/etc/kp-upload-test-${users.sudoer}.conf`
    try {
      const session = await pool().session(target())
      await session.upload(file, 'first\n', {mode: 0o600, owner: 'root:root', sudo: true})
      await session.upload(file, 'key = "value with $dollar"\n', {mode: 0o640, owner: `root:${users.sudoer}`, sudo: true})
      const info = statSync(file)
      expect({gid: info.gid, mode: (info.mode & 0o7777).toString(8), uid: info.uid}).toEqual({gid: Number(execFileSync('id', ['-g', users.sudoer], {encoding: 'utf8'})), mode: '640', uid: 0})
      expect(readFileSync(file, 'utf8')).toBe('key = "value with $dollar"\n')
      expect(execFileSync('sh', ['-c', 'ls -a /etc | grep -c kp-upload || true'], {encoding: 'utf8'}).trim()).toBe('1')
    } finally {
      rmSync(file, {force: true})
    }
  })

  it('streams output and logs every command, its lines and exit code, redacted', async () => {
    registerSecret('s3cr3t-t0ken-value')
    const lines: string[] = []
    const chunks: string[] = []
    const session = await pool({log: (scope, line) => lines.push(`${scope}: ${line}`)}).session(target())
    await session.exec('cat; echo to-stderr >&2; echo done', {input: 'token=s3cr3t-t0ken-value\n', onStderr: (c) => chunks.push(`E${c}`), onStdout: (c) => chunks.push(c)})
    expect(chunks.join('')).toContain('token=s3cr3t-t0ken-value')
    expect(chunks).toContain('Eto-stderr\n')
    expect(lines).toEqual(expect.arrayContaining(['n1: $ cat; echo to-stderr >&2; echo done', 'n1:   | token=[REDACTED]', 'n1:   ! to-stderr', 'n1:   | done', matches(/^n1: {3}exit 0 \(\d+\.\ds\)$/)]))
    expect(lines.join('\n')).not.toContain('s3cr3t')
  })

  it('uses one TCP connection for many commands and for two session() calls', async () => {
    const before = sshd.connections
    const p = pool()
    const [a, b] = await Promise.all([p.session(target()), p.session(target())])
    expect(a).toBe(b)
    const results = await Promise.all(Array.from({length: 30}, (_, i) => a.exec(['echo', String(i)])))
    expect(results.map((r) => r.stdout)).toEqual(Array.from({length: 30}, (_, i) => `${i}\n`))
    expect(await p.session(target())).toBe(a)
    expect(p.connections('127.0.0.1')).toBe(1)
    expect(sshd.connections - before).toBe(1)
  })

  it('refuses an unknown host key without a TTY, showing its SHA256 fingerprint, and writes nothing', async () => {
    const file = path.join(dir, 'empty_known_hosts')
    const connecting = pool({knownHostsFile: file}).session(target())
    await expect(connecting).rejects.toBeInstanceOf(HostKeyUnknownError)
    await expect(connecting).rejects.toMatchObject({exitCode: 2, message: has(sshd.fingerprint)})
    expect(sshd.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(existsSync(file)).toBe(false)
  })

  it('pins a new host key when told to accept, in a line the OpenSSH client accepts', async () => {
    const file = path.join(dir, 'accept_known_hosts')
    const session = await pool({knownHostsFile: file, newHostKeys: 'accept'}).session(target())
    expect((await session.exec('echo ok')).stdout).toBe('ok\n')
    expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKey.type} ${sshd.hostKey.key}\n`)
    const ssh = spawnSync('ssh', ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${file}`, '-o', 'BatchMode=yes', '-i', sshd.clientKey, '-p', String(sshd.port), `${users.sudoer}@127.0.0.1`, 'true'], {encoding: 'utf8'})
    expect(ssh.stderr).toBe('')
    expect(ssh.status).toBe(0)
  })

  it('asks on a TTY and pins only when the operator says yes', async () => {
    const file = path.join(dir, 'ask_known_hosts')
    const questions: string[] = []
    const no = pool({confirm: async (q) => (questions.push(q), false), knownHostsFile: file, newHostKeys: 'ask'}).session(target())
    await expect(no).rejects.toBeInstanceOf(HostKeyUnknownError)
    expect(existsSync(file)).toBe(false)
    await pool({confirm: async () => true, knownHostsFile: file, newHostKeys: 'ask'}).session(target())
    expect(questions[0]).toContain(sshd.fingerprint)
    expect(readFileSync(file, 'utf8')).toContain(sshd.hostKey.key)
  })

  it('recognises a hashed entry in the user known_hosts file', async () => {
    const user = path.join(dir, 'user_known_hosts')
    writeFileSync(user, `[127.0.0.1]:${sshd.port} ${sshd.hostKey.type} ${sshd.hostKey.key}\n`)
    execFileSync('ssh-keygen', ['-H', '-f', user], {stdio: 'ignore'})
    expect(readFileSync(user, 'utf8')).toMatch(/^\|1\|/)
    const session = await pool({knownHostsFile: path.join(dir, 'none'), readUserKnownHosts: true, userKnownHostsFile: user}).session(target())
    expect((await session.exec('echo ok')).stdout).toBe('ok\n')
  })

  it('says clearly that an encrypted identity file needs a passphrase, and uses one when asked', async () => {
    const key = path.join(dir, 'encrypted_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', key])
    writeFileSync(sshd.authorizedKeys, readFileSync(`${key}.pub`), {flag: 'a'})
    const without = pool({identityFile: key}).session(target())
    await expect(without).rejects.toBeInstanceOf(SshIdentityError)
    await expect(without).rejects.toMatchObject({exitCode: 2, message: has('is encrypted'), hint: has('ssh-add')})
    const session = await pool({identityFile: key, passphrase: async () => 'correct horse'}).session(target())
    expect((await session.exec('echo ok')).stdout).toBe('ok\n')
  })

  it('stops a command on abort with InterruptedError, and kills it remotely', async () => {
    const session = await pool().session(target())
    const controller = new AbortController()
    const running = session.exec(['sleep', '417'], {signal: controller.signal})
    setTimeout(() => controller.abort(), 300)
    await expect(running).rejects.toBeInstanceOf(InterruptedError)
    await expect(running).rejects.toMatchObject({exitCode: 130})
    // The connection stays usable, and the remote sleep is gone.
    await expect.poll(async () => (await session.exec('pgrep -f "^sleep 417" || true')).stdout.trim(), {timeout: 5000}).toBe('')
  })

  it('times out connecting to a server that never answers', async () => {
    const silent: Server = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const {port} = silent.address() as {port: number}
    try {
      const started = Date.now()
      const connecting = pool({connectTimeoutMs: 700}).session({...target(), port})
      await expect(connecting).rejects.toBeInstanceOf(SshConnectError)
      await expect(connecting).rejects.toMatchObject({exitCode: 1, message: `${users.sudoer}@127.0.0.1:${port}: no SSH answer within 1s`})
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      silent.close()
    }
  })

  it('refuses a changed host key loudly, and changes nothing', async () => {
    const before = readFileSync(knownHosts, 'utf8')
    const oldFingerprint = sshd.fingerprint
    sshd.newHostKey()
    await sshd.restart()
    const connecting = pool().session(target())
    await expect(connecting).rejects.toBeInstanceOf(HostKeyChangedError)
    await expect(connecting).rejects.toMatchObject({
      exitCode: 4,
      hint: has(`ssh-keygen -R [127.0.0.1]:${sshd.port} -f ${knownHosts}`),
      message: matches(/REMOTE HOST IDENTIFICATION HAS CHANGED/),
    })
    await expect(connecting).rejects.toMatchObject({message: has(oldFingerprint)})
    await expect(connecting).rejects.toMatchObject({message: has(sshd.fingerprint)})
    // Even --accept-new-host-keys does not override a changed key.
    await expect(pool({newHostKeys: 'accept'}).session(target())).rejects.toBeInstanceOf(HostKeyChangedError)
    expect(readFileSync(knownHosts, 'utf8')).toBe(before)
    pinHostKey(knownHosts, '127.0.0.1', sshd.hostKey.type, sshd.hostKey.key, sshd.port)
  })
})

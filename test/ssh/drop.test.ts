/**
 * Dropped SSH sessions (issue 12, 2.14), against a real sshd. A ~/.ssh/rc (sshd runs it as each
 * session starts) cuts the next N sessions, counted in a file: for one test user it kills the
 * connection's own sshd processes (the TCP connection drops); for the other it is the lab's
 * --drop-next-ssh script as the lab image has it, which kills the session and leaves the
 * connection up. An idempotent command is run again; any other command is not, and fails with an
 * exit-1 error that names the host.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {pinHostKey} from '../../src/lib/known-hosts.js'
import {createSshPool, SshCommandError, SshSessionClosedError, type SshPool, type SshTarget} from '../../src/lib/ssh/index.js'
import {DROP_BACKOFF} from '../../src/lib/ssh/session.js'
import {tempDir} from '../helpers/cli.js'
import {cannotRunSshd, createUsers, Sshd, type TestUsers} from './sshd.js'

const skip = cannotRunSshd()
const matches = (re: RegExp): unknown => expect.stringMatching(re)

describe.skipIf(skip)('a dropped SSH session', () => {
  let dir: string
  /** sudoer: its connection dropped; nopw: its session killed (the lab's script) */
  let dropFile: string
  let labDropFile: string
  /** where the test users' commands leave their marks */
  let marks: string
  let sshd: Sshd
  let users: TestUsers
  let knownHosts: string
  const pools: SshPool[] = []
  let log: string[] = []

  const target = (user = users.sudoer): SshTarget => ({host: '127.0.0.1', name: 'w1', port: sshd.port, user})
  const pool = (): SshPool => {
    const p = createSshPool({identityFile: sshd.clientKey, knownHostsFile: knownHosts, log: (scope, line) => log.push(`${scope}: ${line}`), readUserKnownHosts: false})
    pools.push(p)
    return p
  }

  /** Cut the next n sessions, as `kp lab fault w1 --drop-next-ssh n` does. */
  const dropNext = (n: number, file = dropFile) => writeFileSync(file, `${n}\n`)
  const dropsLeft = (file = dropFile) => Number(readFileSync(file, 'utf8').trim() || '0')
  const userRc = (user: string, text: string) => {
    const home = execFileSync('getent', ['passwd', user], {encoding: 'utf8'}).split(':')[5]!
    mkdirSync(path.join(home, '.ssh'), {recursive: true})
    writeFileSync(path.join(home, '.ssh', 'rc'), text)
  }

  const counter = (name: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, '')
    chmodSync(file, 0o666)
    return file
  }

  beforeAll(async () => {
    dir = tempDir('kp-ssh-drop-')
    chmodSync(dir, 0o755)
    users = createUsers()
    sshd = new Sshd({dir: path.join(dir, 'sshd')})
    await sshd.start()
    knownHosts = path.join(dir, 'known_hosts')
    pinHostKey(knownHosts, '127.0.0.1', sshd.hostKey.type, sshd.hostKey.key, sshd.port)
    marks = path.join(dir, 'marks')
    mkdirSync(marks)
    chmodSync(marks, 0o777)
    dropFile = counter('connection-drop')
    labDropFile = counter('lab-drop')
    // Every process of this session and connection that runs as the user: its sshd included, so the TCP connection drops.
    // Killed outermost first: the session's sshd waits for this script before it runs the command, so
    // killing the script's own parent first could let the command start (and even finish) in between.
    userRc(users.sudoer, [
      `f=${dropFile}`,
      'exec 9<>"$f"; flock 9',
      'n=$(cat "$f")',
      'if [ "$n" -gt 0 ] 2>/dev/null; then',
      '  echo $((n - 1)) >"$f"',
      '  me=$(id -u); pid=$PPID; ours=',
      '  while [ "$pid" -gt 1 ] && [ "$(stat -c %u "/proc/$pid")" = "$me" ]; do ours="$pid $ours"; pid=$(awk \'{ print $4 }\' "/proc/$pid/stat"); done',
      '  kill -9 $ours',
      '  exit 1',
      'fi',
      '',
    ].join('\n'))
    // The lab image's own fault script, pointed at this test's counter.
    userRc(users.nopw, readFileSync(new URL('../../lab/assets/image/rootfs/etc/ssh/sshrc', import.meta.url), 'utf8').replaceAll('/run/kp-lab/ssh-drop', labDropFile))
    DROP_BACKOFF.firstMs = 50
  })

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.closeAll()))
    await sshd?.stop()
    users?.remove()
    DROP_BACKOFF.firstMs = 500
  })

  beforeEach(() => {
    log = []
    dropNext(0)
    dropNext(0, labDropFile)
  })

  it('runs an idempotent command again on a new connection, twice if need be, and it succeeds', async () => {
    const marker = path.join(marks, 'idempotent-ran')
    const p = pool()
    const session = await p.session(target())
    dropNext(2)
    const result = await session.exec(`echo ran >> ${marker}; echo facts`, {allowFailure: true, idempotent: true})
    expect(result).toMatchObject({code: 0, stdout: 'facts\n'})
    expect(readFileSync(marker, 'utf8')).toBe('ran\n')
    expect(dropsLeft()).toBe(0)
    // New connections after the drops (two, unless a busy machine saw one drop's TCP close late).
    expect(p.connections('127.0.0.1')).toBeGreaterThanOrEqual(2)
    expect(log).toEqual(expect.arrayContaining([expect.stringContaining('was closed under `echo ran'), expect.stringContaining('running it again (try 2 of 3)'), expect.stringContaining('(try 3 of 3)')]))
  })

  it('does not run a command that is not idempotent again: exit 1, saying the session to the host was closed', async () => {
    const marker = path.join(marks, 'not-idempotent-ran')
    const session = await pool().session(target())
    dropNext(1)
    // allowFailure as node-prepare's facts step asks: a drop is still no exit code of the command's.
    const running = session.exec(`echo ran >> ${marker}`, {allowFailure: true})
    await expect(running).rejects.toBeInstanceOf(SshSessionClosedError)
    await expect(running).rejects.toMatchObject({
      exitCode: 1,
      kind: 'ssh',
      message: `w1: the SSH session to w1 (${users.sudoer}@127.0.0.1:${sshd.port}) was closed while running \`echo ran >> ${marker}\`; kp did not run it again, since it may have acted before the drop`,
    })
    expect(dropsLeft()).toBe(0)
    expect(existsSync(marker)).toBe(false)
    // The session itself recovers: the next command reconnects.
    expect((await session.exec('echo back')).stdout).toBe('back\n')
  })

  it('gives up after 3 tries of an idempotent command, with exit 1', async () => {
    const session = await pool().session(target())
    dropNext(5)
    const running = session.exec('true', {idempotent: true})
    await expect(running).rejects.toMatchObject({exitCode: 1, message: matches(/^w1: the SSH session to w1 \(.*\) was closed while running `true`, 3 times in a row$/)})
    expect(dropsLeft()).toBe(2)
  })

  it('notices a connection dropped in the middle of a command, and reruns it when idempotent', async () => {
    const started = path.join(marks, 'mid-started')
    const session = await pool().session(target())
    const running = session.exec(`if [ -e ${started} ]; then echo second; else touch ${started}; sleep 30; echo first; fi`, {idempotent: true})
    await expect.poll(() => existsSync(started), {timeout: 10_000}).toBe(true)
    // Every process of the test user: its sshd for this connection and the command.
    execFileSync('pkill', ['-KILL', '-u', users.sudoer])
    expect((await running).stdout).toBe('second\n')
  })

  it('runs an idempotent command again when sshd kills its session but keeps the connection (the lab\'s fault)', async () => {
    const p = pool()
    const session = await p.session(target(users.nopw))
    dropNext(2, labDropFile)
    expect(await session.exec('echo facts', {allowFailure: true, idempotent: true})).toMatchObject({code: 0, stdout: 'facts\n'})
    expect(dropsLeft(labDropFile)).toBe(0)
    expect(p.connections('127.0.0.1')).toBe(1)
    expect(log).toContainEqual(expect.stringContaining('`echo facts`, its session killed by SIGKILL: running it again (try 2 of 3)'))

    dropNext(3, labDropFile)
    await expect(session.exec('echo facts', {allowFailure: true, idempotent: true})).rejects.toMatchObject({
      exitCode: 1,
      message: `w1: the SSH session to w1 (${users.nopw}@127.0.0.1:${sshd.port}) was closed while running \`echo facts\`, its session killed by SIGKILL, 3 times in a row`,
    })
  })

  it('does not run a command that is not idempotent again when its session is killed: exit 1, naming the host', async () => {
    const marker = path.join(marks, 'lab-not-idempotent-ran')
    const session = await pool().session(target(users.nopw))
    dropNext(1, labDropFile)
    const running = session.exec(`touch ${marker}`)
    await expect(running).rejects.toMatchObject({exitCode: 1, message: `w1: \`touch ${marker}\` was killed by SIGKILL`})
    expect(dropsLeft(labDropFile)).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  it('names a signal once (SIGKILL, not SIGSIGKILL) when the command itself is killed, and keeps the connection', async () => {
    const p = pool()
    const session = await p.session(target())
    const running = session.exec('kill -9 $$')
    await expect(running).rejects.toBeInstanceOf(SshCommandError)
    await expect(running).rejects.toMatchObject({exitCode: 1, message: 'w1: `kill -9 $$` was killed by SIGKILL'})
    expect(log).toContainEqual(expect.stringMatching(/^w1: {3}exit 255 \(SIGKILL\) \(/))
    expect(log.join('\n')).not.toContain('SIGSIG')
    expect(p.connections('127.0.0.1')).toBe(1)
  })
})

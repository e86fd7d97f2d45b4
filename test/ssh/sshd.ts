/**
 * A real OpenSSH server for the SSH adapter's tests: its own host keys, config and authorized_keys
 * in a temp dir, bound to 127.0.0.1 on a free port, logging to our pipe (-e) so tests can count
 * connections. Test users are created per test file (unique names, so files can run in parallel)
 * and removed afterwards.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import path from 'node:path'

export const SSHD = '/usr/sbin/sshd'

/** Why the real-sshd suites cannot run here, or undefined when they can. */
export function cannotRunSshd(): string | undefined {
  if (process.getuid?.() !== 0) return 'the SSH tests need root (they run sshd and create users)'
  if (!existsSync(SSHD)) return `the SSH tests need ${SSHD} (apt-get install -y openssh-server)`
  return undefined
}

export const hasSudo = existsSync('/usr/bin/sudo')

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

export interface TestUsers {
  /** passwordless sudo */
  sudoer: string
  /** sudo asks for a password */
  nopw: string
  remove(): void
}

/** Two users with a short unique suffix (user names are at most 32 characters). */
export function createUsers(): TestUsers {
  const suffix = `${process.pid % 100_000}${Math.floor(Math.random() * 100)}`
  const sudoer = `kpt${suffix}`
  const nopw = `kpn${suffix}`
  for (const user of [sudoer, nopw]) {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', user])
    // '*': no password to log in with, but not "locked" ('!'), which sshd without PAM refuses.
    execFileSync('usermod', ['-p', '*', user])
  }

  mkdirSync('/etc/sudoers.d', {recursive: true})
  writeFileSync(`/etc/sudoers.d/${sudoer}`, `${sudoer} ALL=(ALL) NOPASSWD:ALL\n`, {mode: 0o440})
  writeFileSync(`/etc/sudoers.d/${nopw}`, `${nopw} ALL=(ALL) ALL\n`, {mode: 0o440})
  return {
    nopw,
    remove() {
      for (const user of [sudoer, nopw]) {
        rmSync(`/etc/sudoers.d/${user}`, {force: true})
        rmSync(`/etc/sudoers.d/${user}-path`, {force: true})
        try {
          execFileSync('pkill', ['-KILL', '-u', user], {stdio: 'ignore'})
        } catch {
          // no processes left
        }

        try {
          execFileSync('userdel', ['-r', '-f', user], {stdio: 'ignore'})
        } catch {
          // already gone
        }
      }
    },
    sudoer,
  }
}

/**
 * Puts `bin` first on the sudo PATH of `user` and keeps SSH_CONNECTION through sudo, so a test's
 * doubles (crictl, sh…) run as root on the "node" and can tell which address the client reached.
 */
export function sudoPathFirst(user: string, bin: string): void {
  writeFileSync(
    `/etc/sudoers.d/${user}-path`,
    `Defaults:${user} secure_path="${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nDefaults:${user} env_keep += "SSH_CONNECTION"\n`,
    {mode: 0o440},
  )
}

export interface SshdOptions {
  dir: string
  logLevel?: 'DEBUG1' | 'VERBOSE'
  /** Loopback addresses to listen on, one per simulated node (127.0.0.1 by default). */
  listenAddresses?: string[]
}

export class Sshd {
  readonly authorizedKeys: string
  readonly clientKey: string
  port = 0
  private child: ChildProcess | undefined
  private log = ''

  constructor(private readonly options: SshdOptions) {
    mkdirSync(options.dir, {recursive: true})
    this.clientKey = path.join(options.dir, 'client_key')
    this.authorizedKeys = path.join(options.dir, 'authorized_keys')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kp-test', '-f', this.clientKey])
    writeFileSync(this.authorizedKeys, readFileSync(`${this.clientKey}.pub`))
    this.newHostKey()
  }

  get hostKeyFile(): string {
    return path.join(this.options.dir, 'ssh_host_ed25519_key')
  }

  /** `type base64` of the current host key. */
  get hostKey(): {key: string; type: string} {
    const [type, key] = readFileSync(`${this.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/)
    return {key: key!, type: type!}
  }

  /** What `ssh-keygen -lf` says the host key's fingerprint is. */
  get fingerprint(): string {
    return execFileSync('ssh-keygen', ['-lf', `${this.hostKeyFile}.pub`], {encoding: 'utf8'}).split(/\s+/)[1]!
  }

  /** How many TCP connections sshd accepted so far (its "Connection from" log lines). */
  get connections(): number {
    return this.log.split('\n').filter((l) => l.includes('Connection from 127.0.0.1')).length
  }

  get output(): string {
    return this.log
  }

  newHostKey(): void {
    rmSync(this.hostKeyFile, {force: true})
    rmSync(`${this.hostKeyFile}.pub`, {force: true})
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'host', '-f', this.hostKeyFile])
  }

  async start(port?: number): Promise<void> {
    this.port = port ?? (await freePort())
    const config = path.join(this.options.dir, 'sshd_config')
    writeFileSync(
      config,
      [
        ...(this.options.listenAddresses ?? ['127.0.0.1']).map((a) => `ListenAddress ${a}`),
        `HostKey ${this.hostKeyFile}`,
        `AuthorizedKeysFile ${this.authorizedKeys}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin no',
        'AllowTcpForwarding yes',
        `LogLevel ${this.options.logLevel ?? 'VERBOSE'}`,
        '',
      ].join('\n'),
    )
    // sshd's privilege separation needs this folder (a system sshd would have created it).
    mkdirSync('/run/sshd', {mode: 0o755, recursive: true})
    const child = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(this.port)], {stdio: ['ignore', 'ignore', 'pipe']})
    this.child = child
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${this.log}`)), 10_000)
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        this.log += d
        if (this.log.includes(`Server listening on 127.0.0.1 port ${this.port}`)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`sshd exited with ${code}:\n${this.log}`))
      })
    })
  }

  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  }

  /** Restart on the same port, e.g. with a new host key. */
  async restart(): Promise<void> {
    await this.stop()
    await this.start(this.port)
  }
}

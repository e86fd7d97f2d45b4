/**
 * SSH failures, each with the exit code DESIGN.md §2 gives it and a hint that names what to do
 * next. Host key problems are never retried: they cannot get better by trying again.
 */
import {ExitCode, KpError, type KpErrorOptions} from '../errors.js'
import {redact} from '../redact.js'

/** `user@host:port`, the way every SSH error names where it went. */
export function where(t: {host: string; port: number; user: string}): string {
  return `${t.user}@${t.host}:${t.port}`
}

/** TCP, handshake or timeout trouble before a session exists. Retrying later may help. */
export class SshConnectError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('ssh', ExitCode.stepFailed, message, options)
    this.name = 'SshConnectError'
  }
}

/** The server refused every credential kp offered. */
export class SshAuthError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('ssh', ExitCode.stepFailed, message, options)
    this.name = 'SshAuthError'
  }
}

/** The identity file cannot be used as configured (encrypted with nobody to ask, unreadable). */
export class SshIdentityError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('ssh', ExitCode.usage, message, options)
    this.name = 'SshIdentityError'
  }
}

export class HostKeyUnknownError extends KpError {
  readonly fingerprint: string
  constructor(readonly target: {host: string; port: number}, keyType: string, fingerprint: string, knownHostsFile: string) {
    const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`
    super(
      'ssh',
      ExitCode.usage,
      `the SSH host key of ${name} is not known, so kp cannot tell it is talking to the right machine.\n` +
        `  It offered this ${keyType} key: ${fingerprint}\n` +
        `  Nothing was written to ${knownHostsFile}.`,
      {
        hint:
          'Pin it the trusted way: "kp vm seed" reads the key through the Proxmox guest agent and pins it. ' +
          'Or compare the fingerprint with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" run on the VM console, ' +
          'then run again with --accept-new-host-keys.',
      },
    )
    this.name = 'HostKeyUnknownError'
    this.fingerprint = fingerprint
  }
}

export class HostKeyChangedError extends KpError {
  constructor(
    readonly target: {host: string; port: number},
    keyType: string,
    readonly offered: string,
    readonly pinned: Array<{file: string; fingerprint: string; type: string}>,
  ) {
    const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`
    const bar = '@'.repeat(59)
    const files = [...new Set(pinned.map((p) => p.file))]
    super(
      'ssh',
      ExitCode.refused,
      [
        `the SSH host key of ${name} has changed; kp refuses to connect.`,
        bar,
        '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
        bar,
        'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
        'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
        'It is also possible that the host key has just been changed (the VM was re-created).',
        `The ${keyType} key the host sent now: ${offered}`,
        ...pinned.map((p) => `Pinned for it (${p.type}) in ${p.file}: ${p.fingerprint}`),
        'Nothing was changed.',
      ].join('\n'),
      {
        hint:
          'Verify on the VM console with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub". If the VM was re-created, ' +
          `"kp vm seed" re-pins its key through the guest agent; or, after verifying, remove the old key with ` +
          files.map((f) => `"ssh-keygen -R ${name} -f ${f}"`).join(' and ') +
          ' and run again with --accept-new-host-keys.',
      },
    )
    this.name = 'HostKeyChangedError'
  }
}

export class SudoPasswordError extends KpError {
  constructor(target: {host: string; name: string; user: string}) {
    super('ssh', ExitCode.stepFailed, `${target.name}: sudo on ${target.host} asks ${target.user} for a password; kp needs passwordless sudo.`, {
      hint: `On ${target.name}, as root, allow it: echo '${target.user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/${target.user} && chmod 0440 /etc/sudoers.d/${target.user} (cloud-init does this for its default user).`,
    })
    this.name = 'SudoPasswordError'
  }
}

export const STDERR_TAIL_LINES = 20

/** A remote command exited non-zero. The message carries its last stderr lines, redacted. */
export class SshCommandError extends KpError {
  constructor(
    readonly target: {host: string; name: string},
    readonly command: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
    readonly signal?: string,
  ) {
    const tail = stderr.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).filter((l) => l.length > 0)
    const how = signal ? `was killed by ${signalName(signal)}` : `exited with code ${code}`
    super('ssh', ExitCode.stepFailed, redact([`${target.name}: \`${command}\` ${how}`, ...tail.map((l) => `  | ${l}`)].join('\n')), {
      hint: `Run it by hand with "kp ssh ${target.name} -- …" to investigate; the run log has its full output.`,
    })
    this.name = 'SshCommandError'
  }
}

export class SshTimeoutError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('ssh', ExitCode.stepFailed, message, options)
    this.name = 'SshTimeoutError'
  }
}

/** The connection dropped under a running command (a reboot, a network cut, a killed sshd). */
export class SshConnectionLostError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('ssh', ExitCode.stepFailed, message, options)
    this.name = 'SshConnectionLostError'
  }
}

/**
 * kp gave up on a session whose connection was closed under it: the node, sshd or the network,
 * never the configuration, so the exit code is 1 and running again (kp resume) is the way on.
 */
export class SshSessionClosedError extends SshConnectionLostError {
  constructor(target: {host: string; name: string; port: number; user: string}, what: string, options: KpErrorOptions = {}) {
    super(`${target.name}: the SSH session to ${target.name} (${where(target)}) was closed ${what}`, {
      hint: `Check that ${target.name} answers ("kp ssh ${target.name} -- uptime"), then run again: "kp resume" starts the step over from its check.`,
      ...options,
    })
    this.name = 'SshSessionClosedError'
  }
}

/** 'SIGKILL', whether the server said 'KILL' or ssh2 already made it 'SIGKILL'. */
export function signalName(signal: string): string {
  return signal.startsWith('SIG') ? signal : `SIG${signal}`
}

/**
 * The SSH adapter's contract: one connection per host per run, channels multiplexed on it. Steps
 * and workflows see only these types; ssh2 stays inside src/lib/ssh/.
 */
export interface SshTarget { name: string; host: string; port: number; user: string }

export interface ExecOptions {
  sudo?: boolean               // run as root via `sudo -n` when user is not root; clear SudoPasswordError when sudo asks for a password
  input?: string | Buffer      // stdin
  timeoutMs?: number           // command timeout (default from pool options)
  signal?: AbortSignal
  onStdout?: (chunk: string) => void
  /**
   * Binary stdout (a file streamed off the node): each chunk as it arrives, in order; it is neither
   * collected in `stdout` nor logged. A throw (the laptop's disk is full) stops the command and
   * rejects with that error.
   */
  onStdoutBytes?: (chunk: Buffer) => void
  onStderr?: (chunk: string) => void
  allowFailure?: boolean       // otherwise a non-zero exit throws SshCommandError (with exit code and stderr tail)
  secretOutput?: boolean       // stdout carries a secret not yet known to the redactor (a new join token): keep it out of the log
  /**
   * Safe to run again from the start if the connection drops under it: read-only, or it guards
   * before it acts (node-prepare's playbooks). After a drop the session reconnects and runs it
   * again, at most 3 tries in all. Without it a drop fails at once with SshSessionClosedError,
   * since the command may have acted before the connection went.
   */
  idempotent?: boolean
}

/** `signal`: what killed the remote command, as 'SIGKILL'. */
export interface ExecResult { code: number; stdout: string; stderr: string; signal?: string }

/** An interactive login shell on a pseudo-terminal, wired to the given streams (kp ssh NODE). */
export interface ShellOptions {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  term?: string
}

export interface SshSession {
  readonly target: SshTarget
  /** string: a command line for the remote shell; string[]: argv, each word shell-quoted */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>
  /** writes a file atomically (temp + mv) with mode and owner; with sudo for root-owned paths */
  upload(remotePath: string, content: string | Buffer, options?: {mode?: number; owner?: string; sudo?: boolean}): Promise<void>
  /** /proc/sys/kernel/random/boot_id */
  bootId(): Promise<string>
  /** issue the reboot (sudo), see the connection drop, reconnect with backoff until the deadline, confirm the boot id changed */
  rebootAndWait(options?: {timeoutMs?: number}): Promise<{bootId: string; seconds: number}>
  /** an interactive shell; resolves with the remote exit code */
  shell?(options: ShellOptions): Promise<number>
}

export interface SshPoolOptions {
  identityFile?: string        // private key; if encrypted, `passphrase()` is asked; without it a clear error
  agent?: boolean              // use SSH_AUTH_SOCK when set
  knownHostsFile: string       // kp's own (OpenSSH format); also read ~/.ssh/known_hosts (readUserKnownHosts default true)
  readUserKnownHosts?: boolean
  /** the user's known_hosts file; default ~/.ssh/known_hosts (tests point it elsewhere) */
  userKnownHostsFile?: string
  jumpHost?: {host: string; port: number; user: string}
  /** unknown host key: 'refuse' (default without TTY), 'ask' (confirm() on a TTY), 'accept' (--accept-new-host-keys) */
  newHostKeys?: 'refuse' | 'ask' | 'accept'
  confirm?: (question: string) => Promise<boolean>
  passphrase?: () => Promise<string>
  log?: (scope: string, line: string) => void   // every command, its exit code, and its output lines (redacted)
  connectTimeoutMs?: number     // default 15 s
  commandTimeoutMs?: number     // default 10 min
  keepaliveIntervalMs?: number  // default 10 s
  signal?: AbortSignal
}

export interface SshPool {
  /** one connection per host per run; the same session object for the same target; channels multiplexed */
  session(target: SshTarget): Promise<SshSession>
  /** how many TCP connections were opened to a host so far (tests assert one per run) */
  connections(host: string): number
  closeAll(): Promise<void>
}

/**
 * kubeadm on a node, over SSH. Secrets reach kubeadm only through files in /run/kp (root, 0600, a
 * tmpfs, deleted after use) and come back only on stdout, which is kept out of the log: never on a
 * command line, where `ps` and the node's audit trail would see them.
 */
import {KUBEADM_CONFIG_DIR} from '../../kubeadm/config.js'
import {registerSecret} from '../../redact.js'
import type {SshSession} from '../../ssh/types.js'
import {ExitCode, KpError} from '../../errors.js'
import type {JoinSecrets} from './facts.js'

/** kubeadm init and join pull images and wait for components: minutes, not seconds. */
export const KUBEADM_TIMEOUT_MS = 10 * 60_000

/** Put a secret-bearing config on the node for the length of `fn`, then remove it whatever happened. */
export async function withNodeFile<T>(session: SshSession, file: string, text: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  await session.exec(['install', '-d', '-m', '0700', KUBEADM_CONFIG_DIR], {signal, sudo: true})
  await session.upload(file, text, {mode: 0o600, sudo: true})
  try {
    return await fn()
  } finally {
    await session.exec(['rm', '-f', file], {allowFailure: true, sudo: true}).catch(() => undefined)
  }
}

export async function fileExists(session: SshSession, file: string, signal: AbortSignal): Promise<boolean> {
  const {code} = await session.exec(['test', '-e', file], {allowFailure: true, signal, sudo: true})
  return code === 0
}

/** A new join token (with the CA hash) made on a control plane; registered with the redactor at once. */
export async function createJoinSecrets(session: SshSession, signal: AbortSignal): Promise<JoinSecrets> {
  const {stdout} = await session.exec(['kubeadm', 'token', 'create', '--print-join-command', '--ttl', '1h0m0s'], {secretOutput: true, signal, sudo: true})
  const token = /--token\s+(\S+)/.exec(stdout)?.[1]
  const caCertHash = /--discovery-token-ca-cert-hash\s+(sha256:[0-9a-f]{64})/i.exec(stdout)?.[1]
  if (!token || !caCertHash) throw new KpError('external-command', ExitCode.stepFailed, `${session.target.name}: kubeadm token create printed no join command kp can read`)
  registerSecret(token)
  return {caCertHash, token}
}

/** Upload the control-plane certificates again, encrypted with a new key, for the next control-plane join (they expire after 2 h). */
export async function uploadCertificates(session: SshSession, signal: AbortSignal): Promise<string> {
  const {stdout} = await session.exec(['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs'], {secretOutput: true, signal, sudo: true})
  const key = stdout.split('\n').map((l) => l.trim()).reverse().find((l) => /^[0-9a-f]{64}$/i.test(l))
  if (!key) throw new KpError('external-command', ExitCode.stepFailed, `${session.target.name}: kubeadm init phase upload-certs printed no certificate key`)
  registerSecret(key)
  return key
}

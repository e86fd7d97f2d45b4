/**
 * The lab folder: everything `kp lab up` writes for the user (kp.yaml, the token secret, the SSH key)
 * beside what the supervisor keeps (its pid, status, log, control socket, the Proxmox state and the
 * VMs). One folder per lab; `kp lab down --purge` removes it.
 */
import {generateKeyPairSync, randomBytes, randomUUID} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

export const LAB_TOKEN_ID = 'kp@pve!kp-lab'
export const LAB_TEMPLATE_VMID = 9000
export const LAB_PVE_NODE = 'pve'
export const LAB_PVE_PORT = 8006
export const LAB_KUBE_PORT = 6443
export const LAB_USER = 'debian'
export const LAB_SHARED_STORAGE = 'shared'

export function labPaths(dir: string) {
  return {
    cni: path.join(dir, 'cni.yaml'),
    config: path.join(dir, 'kp.yaml'),
    dir,
    knownHosts: path.join(dir, 'known_hosts'),
    kube: path.join(dir, 'kube'),
    kubeconfig: path.join(dir, 'kubeconfig'),
    log: path.join(dir, 'supervisor.log'),
    pveCerts: path.join(dir, 'pve'),
    pveState: path.join(dir, 'pve', 'state.json'),
    socket: path.join(dir, 'control.sock'),
    sshKey: path.join(dir, 'ssh', 'id_ed25519'),
    status: path.join(dir, 'supervisor.json'),
    tokenSecret: path.join(dir, 'secrets', 'pve-token'),
  }
}

export type LabPaths = ReturnType<typeof labPaths>

/** The lab's API token secret, created once (mode 0600, as kp.yaml's file source demands). */
export function ensureTokenSecret(paths: LabPaths): string {
  if (existsSync(paths.tokenSecret)) return readFileSync(paths.tokenSecret, 'utf8').trim()
  mkdirSync(path.dirname(paths.tokenSecret), {mode: 0o700, recursive: true})
  // Proxmox token secrets are lowercase UUIDs (and clients such as proxmox-api check the format).
  const secret = randomUUID()
  writeFileSync(paths.tokenSecret, `${secret}\n`, {flag: 'wx', mode: 0o600})
  return secret
}

/**
 * The SSH key kp and the user log in with, created once. Written in OpenSSH's own private key format
 * (what ssh-keygen writes), so the OpenSSH client, ssh2 and ssh-keygen all read it.
 */
export function ensureSshKey(paths: LabPaths, comment = 'kp-lab'): {privateKeyFile: string; publicKey: string} {
  const pubFile = `${paths.sshKey}.pub`
  if (!existsSync(paths.sshKey)) {
    mkdirSync(path.dirname(paths.sshKey), {mode: 0o700, recursive: true})
    const {privateKey} = generateKeyPairSync('ed25519')
    const pem = privateKey.export({format: 'jwk'})
    const seed = Buffer.from(pem.d!, 'base64url')
    const pub = Buffer.from(pem.x!, 'base64url')
    writeFileSync(paths.sshKey, openSshPrivateKey(seed, pub, comment), {flag: 'wx', mode: 0o600})
    writeFileSync(pubFile, `${openSshPublicKey(pub)} ${comment}\n`, {mode: 0o644})
  }

  return {privateKeyFile: paths.sshKey, publicKey: readFileSync(pubFile, 'utf8').trim()}
}

const sshString = (data: Buffer | string) => {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

const publicBlob = (pub: Buffer) => Buffer.concat([sshString('ssh-ed25519'), sshString(pub)])

export function openSshPublicKey(pub: Buffer): string {
  return `ssh-ed25519 ${publicBlob(pub).toString('base64')}`
}

/** PROTOCOL.key: an unencrypted `openssh-key-v1` container holding one ed25519 key. */
export function openSshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const check = randomBytes(4)
  let secret = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)])
  const pad = (8 - (secret.length % 8)) % 8
  secret = Buffer.concat([secret, Buffer.from(Array.from({length: pad}, (_, i) => i + 1))])
  const u32 = Buffer.alloc(4)
  u32.writeUInt32BE(1)
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), u32, sshString(publicBlob(pub)), sshString(secret)])
  const lines = body.toString('base64').match(/.{1,70}/g) ?? []
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

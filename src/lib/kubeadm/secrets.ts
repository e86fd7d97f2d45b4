/**
 * The two secrets of a kubeadm bootstrap and the CA pin a join checks:
 * - the bootstrap token (`abcdef.0123456789abcdef`) with which joining nodes authenticate;
 * - the certificate key (64 hex characters, an AES-256 key) with which `kubeadm init --upload-certs`
 *   encrypts the control-plane certificates it leaves in the kubeadm-certs Secret for two hours;
 * - the CA cert hash (`sha256:<hex>`) of the cluster CA's public key, which a joining node pins so
 *   that a token alone cannot make it trust an impostor API server. Public, not a secret.
 * Generated secrets are registered for redaction at once, so no log line can carry them.
 */
import {createHash, randomBytes, X509Certificate} from 'node:crypto'

import {registerSecret} from '../redact.js'

export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/
export const CERTIFICATE_KEY_PATTERN = /^[0-9a-fA-F]{64}$/
export const CA_CERT_HASH_PATTERN = /^sha256:[0-9a-fA-F]{64}$/

/**
 * Stand-ins for golden files and dry runs: well-formed, so a rendered file still validates, and
 * recognisable. The token is the one kubeadm itself prints in `kubeadm config print init-defaults`,
 * the key the one kubeadm's own e2e tests (kinder) pass to --certificate-key.
 */
export const PLACEHOLDER_SECRETS = {
  bootstrapToken: 'abcdef.0123456789abcdef',
  caCertHash: `sha256:${'0123456789abcdef'.repeat(4)}`,
  certificateKey: '0123456789012345678901234567890123456789012345678901234567890123',
} as const

const TOKEN_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/** `length` characters from [a-z0-9], uniformly: bytes past the largest multiple of 36 are drawn again. */
function randomTokenChars(length: number): string {
  const limit = 256 - (256 % TOKEN_ALPHABET.length)
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += TOKEN_ALPHABET[byte % TOKEN_ALPHABET.length]
    }
  }

  return out
}

/** A fresh bootstrap token in kubeadm's format (cluster-bootstrap GenerateBootstrapToken), registered for redaction. */
export function generateBootstrapToken(): string {
  const token = `${randomTokenChars(6)}.${randomTokenChars(16)}`
  registerSecret(token)
  return token
}

/** A fresh certificate key, as `kubeadm certs certificate-key` makes one: 32 random bytes in hex. */
export function generateCertificateKey(): string {
  const key = randomBytes(32).toString('hex')
  registerSecret(key)
  return key
}

/** Register secrets that kp did not generate itself (read back from a cluster on resume). */
export function registerKubeadmSecrets(secrets: {bootstrapToken?: string; certificateKey?: string}): void {
  if (secrets.bootstrapToken) registerSecret(secrets.bootstrapToken)
  if (secrets.certificateKey) registerSecret(secrets.certificateKey)
}

/**
 * kubeadm's --discovery-token-ca-cert-hash for a CA certificate (PEM, the first certificate in
 * it): `sha256:` and the hex SHA-256 of its DER SubjectPublicKeyInfo (cluster-bootstrap
 * pubkeypin.Hash). Throws when the text holds no certificate.
 */
export function caCertHash(pem: string): string {
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(pem)
  } catch (error) {
    throw new Error(`not a PEM X.509 certificate: ${error instanceof Error ? error.message : String(error)}`, {cause: error})
  }

  const spki = certificate.publicKey.export({format: 'der', type: 'spki'})
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`
}

import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {
  BOOTSTRAP_TOKEN_PATTERN,
  caCertHash,
  CERTIFICATE_KEY_PATTERN,
  generateBootstrapToken,
  generateCertificateKey,
  PLACEHOLDER_SECRETS,
  registerKubeadmSecrets,
} from '../../src/lib/kubeadm/secrets.js'
import {validateKubeadmConfig} from '../../src/lib/kubeadm/validate.js'
import {clearSecretsForTests, redact, REDACTED} from '../../src/lib/redact.js'

const dir = mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-ca-'))
afterAll(() => rmSync(dir, {force: true, recursive: true}))
afterEach(() => clearSecretsForTests())

function sh(script: string): string {
  const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {cwd: dir, encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`${script}: ${result.stderr}`)
  return result.stdout
}

/** A self-signed CA made with the openssl CLI, as kubeadm's ca.crt is one. */
function makeCa(name: string, keyOptions: string): string {
  sh(`openssl req -x509 -new -nodes ${keyOptions} -keyout ${name}.key -out ${name}.crt -subj /CN=kubernetes -days 1 2>/dev/null`)
  return readFileSync(path.join(dir, `${name}.crt`), 'utf8')
}

/** The recipe from kubeadm's documentation for --discovery-token-ca-cert-hash. */
function opensslHash(name: string): string {
  return `sha256:${sh(`openssl x509 -pubkey -noout -in ${name}.crt | openssl pkey -pubin -outform der | sha256sum`).split(' ')[0]}`
}

describe('the CA cert hash', () => {
  it.each([
    ['rsa', '-newkey rsa:2048'],
    ['ecdsa', '-newkey ec -pkeyopt ec_paramgen_curve:P-256'],
  ])('matches openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum for a %s CA', (name, keyOptions) => {
    const pem = makeCa(name, keyOptions)
    const expected = opensslHash(name)
    expect(expected).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(caCertHash(pem)).toBe(expected)
  })

  it('takes the first certificate of a bundle, and a pin kubeadm join accepts', () => {
    const first = makeCa('first', '-newkey rsa:2048')
    const second = makeCa('second', '-newkey rsa:2048')
    const hash = caCertHash(`${first}${second}`)
    expect(hash).toBe(opensslHash('first'))
    const join = `apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: ${PLACEHOLDER_SECRETS.bootstrapToken}\n    apiServerEndpoint: k8s.lab.lan:6443\n    caCertHashes: [${hash}]\n`
    expect(validateKubeadmConfig(join, {command: 'join'}).problems).toEqual([])
  })

  it('says so when the text is no certificate', () => {
    expect(() => caCertHash('not a certificate')).toThrow(/^not a PEM X\.509 certificate: /)
  })
})

describe('generated secrets', () => {
  it('makes bootstrap tokens in kubeadm\'s format, different every time, from the whole alphabet', () => {
    const tokens = Array.from({length: 500}, () => generateBootstrapToken())
    for (const token of tokens) expect(token).toMatch(BOOTSTRAP_TOKEN_PATTERN)
    expect(new Set(tokens).size).toBe(tokens.length)
    expect(new Set(tokens.join('').replaceAll('.', '')).size).toBe(36)
  })

  it('makes certificate keys of 32 random bytes in hex', () => {
    const keys = Array.from({length: 50}, () => generateCertificateKey())
    for (const key of keys) expect(key).toMatch(CERTIFICATE_KEY_PATTERN)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('registers what it makes for redaction, so no log line can show it', () => {
    const token = generateBootstrapToken()
    const key = generateCertificateKey()
    expect(redact(`kubeadm token ${token} key ${key}`)).toBe(`kubeadm token ${REDACTED} key ${REDACTED}`)
  })

  it('registers secrets read back from a cluster too', () => {
    registerKubeadmSecrets({bootstrapToken: 'qwerty.0123456789qwerty', certificateKey: 'ab'.repeat(32)})
    expect(redact('qwerty.0123456789qwerty and ' + 'ab'.repeat(32))).toBe(`${REDACTED} and ${REDACTED}`)
  })

  it('offers placeholders that are well-formed, so golden files still validate', () => {
    expect(PLACEHOLDER_SECRETS.bootstrapToken).toMatch(BOOTSTRAP_TOKEN_PATTERN)
    expect(PLACEHOLDER_SECRETS.certificateKey).toMatch(CERTIFICATE_KEY_PATTERN)
    expect(PLACEHOLDER_SECRETS.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/)
  })
})

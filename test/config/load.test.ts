import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/load.js'
import {ConfigError} from '../../src/lib/errors.js'
import {clearSecretsForTests, redact, REDACTED} from '../../src/lib/redact.js'
import {tempDir} from '../helpers/cli.js'

afterEach(() => clearSecretsForTests())

const MINIMAL = `cluster:
  name: lab
  kubernetesVersion: 1.31.4
  controlPlaneEndpoint: 10.0.10.11
  cni: {manifest: https://example.com/cni.yaml}
network:
  gateway: 10.0.10.1
  prefix: 24
  dns: [10.0.10.1]
ssh:
  user: debian
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.0.10.11}
  - {name: w1, role: worker, vmid: 211, ip: 10.0.10.21}
`

const PROXMOX = `proxmox:
  endpoint: https://pve.lan:8006
  node: pve
  tokenId: kp@pve!kp
  tokenSecret: {env: KP_LOAD_TEST_SECRET}
  templateVmid: 9000
`

function write(text: string, name = 'kp.yaml'): string {
  const file = path.join(tempDir(), name)
  writeFileSync(file, text)
  return file
}

async function loadError(file: string, options = {}): Promise<ConfigError> {
  const error = await loadConfig(file, options).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

/** The problem lines of an error, with the temp file's path shortened to kp.yaml. */
function lines(error: Error, file: string): string[] {
  return error.message
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replaceAll(file, 'kp.yaml'))
}

describe('loadConfig', () => {
  it('returns the absolute path, folder, hash of the bytes and parsed config', async () => {
    const file = write(MINIMAL)
    const loaded = await loadConfig(path.relative(process.cwd(), file))
    expect(loaded.path).toBe(file)
    expect(loaded.dir).toBe(path.dirname(file))
    expect(loaded.hash).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'))
    expect(loaded.config.cluster.controlPlaneEndpoint).toBe('10.0.10.11:6443')
    expect(loaded.secrets).toBeUndefined()
  })

  it('resolves relative paths against the file, expands ~, and leaves URLs alone', async () => {
    const text = MINIMAL.replace('cni: {manifest: https://example.com/cni.yaml}', 'cni: {manifest: manifests/flannel.yml}\n  kubeconfig: ../admin.conf')
      .replace('  user: debian', '  user: debian\n  identityFile: ~/.ssh/id_ed25519\n  knownHostsFile: ./known_hosts')
      .concat(PROXMOX.replace('{env: KP_LOAD_TEST_SECRET}', '{file: secrets/pve-token}').concat('  caFile: pve-ca.pem\n'))
    const file = write(text)
    const dir = path.dirname(file)
    const {config} = await loadConfig(file)
    expect(config.cluster.cni.manifest).toBe(path.join(dir, 'manifests/flannel.yml'))
    expect(config.cluster.kubeconfig).toBe(path.resolve(dir, '../admin.conf'))
    expect(config.ssh.identityFile).toBe(path.join(homedir(), '.ssh/id_ed25519'))
    expect(config.ssh.knownHostsFile).toBe(path.join(dir, 'known_hosts'))
    expect(config.proxmox?.caFile).toBe(path.join(dir, 'pve-ca.pem'))
    expect(config.proxmox?.tokenSecret).toEqual({file: path.join(dir, 'secrets/pve-token')})

    const remote = await loadConfig(write(MINIMAL))
    expect(remote.config.cluster.cni.manifest).toBe('https://example.com/cni.yaml')
  })

  it('names a missing file and says how to create or point to one', async () => {
    const file = path.join(tempDir(), 'kp.yaml')
    const error = await loadError(file)
    expect(error.message).toBe(`no configuration file at ${file}`)
    expect(error.hint).toContain('kp config init')
    expect(error.hint).toContain('-c/--config or $KP_CONFIG')
    expect(error.exitCode).toBe(2)
  })

  it('refuses a folder', async () => {
    await expect(loadConfig(tempDir())).rejects.toThrow(/is a folder, not a configuration file/)
  })

  it('lists every problem with LINE:COL and key path, in file order, with a hint', async () => {
    const text = MINIMAL.replace('name: lab', 'name: Lab').replace('vmid: 211', 'vmid: "211"').replace('  prefix: 24\n', '  prefix: 24\n  vlna: 20\n')
    const file = write(text)
    const error = await loadError(file)
    expect(error.message.split('\n')[0]).toBe(`${file} is not valid (3 problems):`)
    expect(lines(error, file)).toEqual([
      'kp.yaml:2:9: cluster.name: must be a DNS label: lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit',
      'kp.yaml:9:3: network.vlna: unknown key (did you mean "vlan"?)',
      'kp.yaml:15:36: nodes[1].vmid: must be a whole number, not a string',
    ])
    expect(error.hint).toMatch(/kp config validate.*kp config schema/)
  })

  it("points a missing key at its parent's key", async () => {
    const file = write(MINIMAL.replace('  kubernetesVersion: 1.31.4\n', ''))
    expect(lines(await loadError(file), file)).toEqual(['kp.yaml:1:1: cluster.kubernetesVersion: required key is missing'])
  })

  it('reports duplicate keys with their path and position', async () => {
    const file = write(MINIMAL.replace('  user: debian\n', '  user: debian\n  user: ubuntu\n'))
    expect(lines(await loadError(file), file)).toEqual(['kp.yaml:12:3: ssh.user: duplicate key: each key may appear once in a mapping (the second one would silently win)'])
  })

  it('reports YAML syntax errors at their position', async () => {
    const file = write(MINIMAL.replace("  dns: [10.0.10.1]", '  dns: [10.0.10.1'))
    const [line] = lines(await loadError(file), file)
    expect(line).toMatch(/^kp\.yaml:10:1: network\.dns: YAML syntax error: Flow sequence .* end with a \]$/)
  })

  it.each([
    ['a flow list', `${'['.repeat(5000)}${']'.repeat(5000)}\n`, 'kp.yaml:1:33'],
    ['a flow mapping', `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`, 'kp.yaml:1:129'],
    ['block lists', `cluster:\n  name: x\nnodes:\n  - ${'- '.repeat(5000)}1\n`, 'kp.yaml:4:65'],
    ['block mappings, one a line', `${Array.from({length: 5000}, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`, 'kp.yaml:33:34'],
  ])('says that %s 5000 deep is nested too deeply, at the level past the limit', async (_, text, at) => {
    const file = write(text)
    const error = await loadError(file)
    expect(error.exitCode).toBe(2)
    expect(lines(error, file)).toEqual([`${at}: nested too deeply: more than 32 levels (kp.yaml needs 4); is this the right file?`])
  })

  it('reads a file nested 32 levels deep far enough to name the key that is wrong', async () => {
    const file = write(`${MINIMAL}extra: ${'['.repeat(31)}${']'.repeat(31)}\n`)
    expect(lines(await loadError(file), file)).toEqual(['kp.yaml:15:1: extra: unknown key'])
  })

  it('keeps the message on one screen: at most 20 problems, then a count', async () => {
    const nodes = Array.from({length: 30}, (_, i) => `  - {name: n${i}, role: worker, vmid: ${300 + i}, ip: 10.9.0.${i + 1}}\n`).join('')
    const file = write(MINIMAL + nodes)
    const error = await loadError(file)
    const all = error.message.split('\n')
    expect(all[0]).toMatch(/is not valid \(30 problems\):$/)
    expect(all).toHaveLength(22)
    expect(all.at(-1)).toBe('  … and 10 more')
  })

  it('resolves secrets only when asked, and registers them for redaction', async () => {
    const file = write(MINIMAL + PROXMOX)
    const env = {KP_LOAD_TEST_SECRET: 'loaded-secret-value'}
    expect((await loadConfig(file, {env})).secrets).toBeUndefined()
    const loaded = await loadConfig(file, {env, resolveSecrets: true})
    expect(loaded.secrets).toEqual({proxmoxTokenSecret: 'loaded-secret-value'})
    expect(redact('Authorization: PVEAPIToken=kp@pve!kp=loaded-secret-value')).toBe(`Authorization: PVEAPIToken=kp@pve!kp=${REDACTED}`)
    expect((await loadConfig(write(MINIMAL), {resolveSecrets: true})).secrets).toEqual({})
  })

  it('reports a secret that cannot be read at its key', async () => {
    const file = write(MINIMAL + PROXMOX)
    const error = await loadError(file, {env: {}, resolveSecrets: true})
    expect(lines(error, file)).toEqual([
      'kp.yaml:19:22: proxmox.tokenSecret.env: environment variable KP_LOAD_TEST_SECRET is not set: export KP_LOAD_TEST_SECRET=… before running kp',
    ])
  })

  it('refuses a secret file readable by others, relative to the config folder', async () => {
    const file = write(MINIMAL + PROXMOX.replace('{env: KP_LOAD_TEST_SECRET}', '{file: pve-token}'))
    const token = path.join(path.dirname(file), 'pve-token')
    writeFileSync(token, 'group-readable-secret\n')
    chmodSync(token, 0o640)
    const error = await loadError(file, {resolveSecrets: true})
    expect(error.message).toContain(`chmod 600 ${token}`)
    expect(error.message).not.toContain('group-readable-secret')
    chmodSync(token, 0o600)
    await expect(loadConfig(file, {resolveSecrets: true})).resolves.toMatchObject({secrets: {proxmoxTokenSecret: 'group-readable-secret'}})
  })

  it('checks that named files exist when asked', async () => {
    const text = MINIMAL.replace('  user: debian', '  user: debian\n  identityFile: keys/id_ed25519').replace('https://example.com/cni.yaml', 'cni.yaml')
    const file = write(text)
    await expect(loadConfig(file)).resolves.toBeDefined()
    const error = await loadError(file, {checkFiles: true})
    const dir = path.dirname(file)
    expect(lines(error, file)).toEqual([`kp.yaml:5:19: cluster.cni.manifest: ${dir}/cni.yaml does not exist`, `kp.yaml:12:17: ssh.identityFile: ${dir}/keys/id_ed25519 does not exist`])
    mkdirSync(path.join(dir, 'keys'))
    writeFileSync(path.join(dir, 'keys/id_ed25519'), 'key')
    writeFileSync(path.join(dir, 'cni.yaml'), 'kind: List')
    await expect(loadConfig(file, {checkFiles: true})).resolves.toBeDefined()
  })
})

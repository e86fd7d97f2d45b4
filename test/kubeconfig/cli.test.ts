/**
 * kp kubeconfig run the way a user runs it, with HOME in a temporary folder, and the result read
 * back with the real kubectl.
 */
import {execFile} from 'node:child_process'
import {chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {beforeEach, describe, expect, it} from 'vitest'

import type {KubeconfigResult} from '../../src/lib/kubeconfig/index.js'
import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p))

/** kubeadm's admin.conf, as kp bootstrap fetches it (the data is not a real certificate: kubectl config does not look). */
function adminConf(server: string): string {
  return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EgY2VydGlmaWNhdGUK
    server: ${server}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: S0VZCg==
`
}

// Servers are addresses, not names: kubectl resolves the current context's server name even for
// `kubectl config …`, and a test must not send DNS queries off the machine.
const OTHER = `# the work cluster, hand-written
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://127.0.0.2:6443
  name: work
- cluster:
    server: https://127.0.0.3:6443
  name: kp-testlab
contexts:
- context: {cluster: work, user: me, namespace: team}
  name: work
users:
- name: me
  user: {token: abc}
current-context: work
preferences: {}
`

interface World {
  config: string
  home: string
  state: string
  userConfig: string
}

let w: World

beforeEach(() => {
  const dir = tempDir('kp-kubeconfig-')
  const home = path.join(dir, 'home')
  mkdirSync(home)
  w = {config: writeTestConfig(dir), home, state: path.join(dir, 'state'), userConfig: path.join(home, '.kube', 'config')}
})

function writeAdmin(server = 'https://10.77.0.11:6443'): string {
  const file = path.join(w.state, 'clusters', 'testlab', 'admin.conf')
  mkdirSync(path.dirname(file), {recursive: true})
  writeFileSync(file, adminConf(server), {mode: 0o600})
  return file
}

function kp(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runKp(['kubeconfig', '-c', w.config, '--state-dir', w.state, ...args], {env: {HOME: w.home, KUBECONFIG: '', ...env}})
}

function kubectl(args: string[], kubeconfig = w.userConfig): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(KUBECTL ?? 'kubectl', ['--kubeconfig', kubeconfig, ...args], {env: {...process.env, HOME: w.home}}, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)))
  })
}

const mode = (file: string) => statSync(file).mode & 0o777

describe('kp kubeconfig', () => {
  it('without an admin kubeconfig: exit 2, "run kp bootstrap first"', async () => {
    const text = await kp([])
    expect(text.code).toBe(2)
    expect(text.stderr).toContain(`no admin kubeconfig for cluster "testlab" yet: ${path.join(w.state, 'clusters', 'testlab', 'admin.conf')} does not exist`)
    expect(text.stderr).toContain('Run "kp bootstrap" first')
    const json = parseEnvelope(await kp(['--merge', '--json']).then((r) => r.stdout))
    expect(json.error).toMatchObject({exitCode: 2, kind: 'config'})
    expect(existsSync(w.userConfig)).toBe(false)
  })

  it('shows where the admin kubeconfig is and how to use it', async () => {
    const admin = writeAdmin()
    const text = await kp([])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`Admin kubeconfig of cluster "testlab": ${admin} (API server https://10.77.0.11:6443)`)
    expect(text.stdout).toContain(`export KUBECONFIG=${admin}`)
    expect(text.stdout).toContain(`kubectl --kubeconfig ${admin} get nodes`)
    expect(text.stdout).toContain('as context kp-testlab:  kp kubeconfig --merge')
    const json = parseEnvelope<KubeconfigResult>((await kp(['--json'])).stdout)
    expect(json.result).toMatchObject({context: 'kubernetes-admin@kubernetes', merged: false, path: admin, source: admin})
  })

  it('--merge into a missing ~/.kube/config: folder 0700, file 0600, kubectl sees context kp-testlab as current', async () => {
    writeAdmin()
    const text = await kp(['--merge'])
    expect(text.stderr).toBe('')
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`Merged into ${w.userConfig} as context kp-testlab, mode 0600.`)
    expect(text.stdout).toContain('Current context: kp-testlab.')
    expect(text.stdout).toContain('Try: kubectl --context kp-testlab get nodes')
    expect(mode(w.userConfig)).toBe(0o600)
    expect(mode(path.dirname(w.userConfig))).toBe(0o700)
    expect((await kubectl(['config', 'get-contexts', '-o', 'name'])).trim()).toBe('kp-testlab')
    expect((await kubectl(['config', 'current-context'])).trim()).toBe('kp-testlab')
    expect(await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server} {.users[0].name}'])).toBe('https://10.77.0.11:6443 kp-testlab-admin')
    expect(readdirSync(path.dirname(w.userConfig))).toEqual(['config'])
  })

  it('--merge next to other contexts: replaces the stale kp entry, keeps the rest and the current context; a second merge changes nothing', async () => {
    writeAdmin()
    mkdirSync(path.dirname(w.userConfig), {recursive: true})
    writeFileSync(w.userConfig, OTHER, {mode: 0o644})
    const first = parseEnvelope<KubeconfigResult>((await kp(['--merge', '--json'])).stdout)
    expect(first.result).toMatchObject({changed: true, context: 'kp-testlab', currentContext: 'work', kubectl: 'kubectl --context kp-testlab get nodes', merged: true, path: w.userConfig, replaced: true})
    expect(mode(w.userConfig)).toBe(0o600)
    expect((await kubectl(['config', 'get-contexts', '-o', 'name'])).trim().split('\n').sort()).toEqual(['kp-testlab', 'work'])
    expect((await kubectl(['config', 'current-context'])).trim()).toBe('work')
    expect(await kubectl(['config', 'view', '-o', 'jsonpath={.clusters[*].cluster.server}'])).toBe('https://10.77.0.11:6443 https://127.0.0.2:6443')
    expect(await kubectl(['config', 'view', '-o', 'jsonpath={.contexts[?(@.name=="work")].context.namespace}'])).toBe('team')
    const after = readFileSync(w.userConfig, 'utf8')
    expect(after).toContain('# the work cluster, hand-written')

    const again = await kp(['--merge'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already has context kp-testlab up to date; nothing changed')
    expect(again.stdout).toContain('Current context stays work')
    expect(readFileSync(w.userConfig, 'utf8')).toBe(after)
  })

  it('--use-context switches; $KUBECONFIG\'s first file is the default target; --dry-run writes nothing', async () => {
    writeAdmin()
    const first = path.join(w.home, 'first.yaml')
    const second = path.join(w.home, 'second.yaml')
    writeFileSync(first, OTHER)
    const dry = await kp(['--merge', '--dry-run'], {KUBECONFIG: `${first}${path.delimiter}${second}`})
    expect(dry.stdout).toContain(`Dry run: would merge into ${first} as context kp-testlab; nothing written.`)
    expect(readFileSync(first, 'utf8')).toBe(OTHER)

    const text = await kp(['--merge', '--use-context'], {KUBECONFIG: `${first}${path.delimiter}${second}`})
    expect(text.code).toBe(0)
    expect(existsSync(second)).toBe(false)
    expect((await kubectl(['config', 'current-context'], first)).trim()).toBe('kp-testlab')
  })

  it('--kubeconfig FILE elsewhere: the kubectl hint names the file; a symlinked file stays a symlink', async () => {
    writeAdmin()
    const real = path.join(w.home, 'dotfiles', 'kubeconfig')
    mkdirSync(path.dirname(real))
    writeFileSync(real, OTHER)
    const link = path.join(w.home, 'kc-link')
    symlinkSync(real, link)
    const json = parseEnvelope<KubeconfigResult>((await kp(['--merge', '--kubeconfig', link, '--json'])).stdout)
    expect(json.result?.kubectl).toBe(`kubectl --kubeconfig ${link} --context kp-testlab get nodes`)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(real, 'utf8')).toContain('kp-testlab-admin')
    expect((await kubectl(['config', 'get-contexts', '-o', 'name'], link)).trim().split('\n').sort()).toEqual(['kp-testlab', 'work'])
  })

  it.each([
    ['bad YAML', 'apiVersion: v1\nclusters: [\n', 'YAML syntax error at line 3'],
    ['a Pod manifest', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n', 'it has kind: Pod, not kind: Config'],
  ])('refuses %s: exit 2, the file untouched', async (_name, content, why) => {
    writeAdmin()
    mkdirSync(path.dirname(w.userConfig), {recursive: true})
    writeFileSync(w.userConfig, content)
    chmodSync(w.userConfig, 0o640)
    const text = await kp(['--merge'])
    expect(text.code).toBe(2)
    expect(text.stderr).toContain(`${w.userConfig} is not a kubeconfig: ${why}`)
    expect(text.stderr).toContain('kp left it untouched')
    expect(readFileSync(w.userConfig, 'utf8')).toBe(content)
    expect(mode(w.userConfig)).toBe(0o640)
    expect(readdirSync(path.dirname(w.userConfig))).toEqual(['config'])
  })

  it('--dry-run into a missing ~/.kube creates nothing; a folder in the file\'s place is refused', async () => {
    writeAdmin()
    const dry = parseEnvelope<KubeconfigResult>((await kp(['--merge', '--dry-run', '--json'])).stdout)
    expect(dry.result).toMatchObject({changed: true, merged: true, path: w.userConfig})
    expect(existsSync(path.dirname(w.userConfig))).toBe(false)

    mkdirSync(w.userConfig, {recursive: true})
    const text = await kp(['--merge'])
    expect(text.code).toBe(2)
    expect(text.stderr).toContain(`cannot read ${w.userConfig}: it is a folder`)
  })

  it('waits for kubectl\'s lock and names it when it stays', async () => {
    writeAdmin()
    mkdirSync(path.dirname(w.userConfig), {recursive: true})
    writeFileSync(`${w.userConfig}.lock`, '')
    const text = await kp(['--merge'])
    expect(text.code).toBe(3)
    expect(text.stderr).toContain(`${w.userConfig}.lock exists: kubectl or another program is changing ${w.userConfig}`)
    expect(existsSync(w.userConfig)).toBe(false)
  })

  it('--use-context without --merge is a usage error', async () => {
    const text = await kp(['--use-context'])
    expect(text.code).toBe(2)
    expect(text.stderr).toContain('--merge')
  })
})

/**
 * kp lab up / status / fault / down, run the way a user runs them (as root), and the lab seen only
 * through plain clients afterwards: an HTTPS client pinned to the printed fingerprint, with the token
 * from the lab folder, and the OpenSSH client with the lab's key and a known_hosts file filled from
 * the guest agent. Ends with kp lab down and a sweep proving nothing is left.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {request} from 'node:https'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LAB_LOCK_FILE} from '../../../src/lib/lab/host/options.js'
import {labAlive} from '../../../src/lib/lab/host/lock.js'
import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {mountsUnder, processesMentioning} from '../../../src/lib/lab/host/system.js'
import {parseEnvelope, runKp, tempDir} from '../../helpers/cli.js'
import {pveCall} from '../../helpers/pve.js'
import {isRoot, sh, SshClient, until} from '../host/helpers.js'

interface UpResult {
  alreadyUp: boolean
  config: string
  dir: string
  kubeconfig?: string
  nodes: Array<{ip: string; name: string; vmid: number}>
  proxmox: {endpoint: string; fingerprint: string; node: string; tokenId: string; tokenSecretFile: string}
  sshKey: string
  sshUser: string
  supervisorPid: number
}

interface Api {
  data: unknown
  status: number
  statusText: string
}

if (!isRoot) console.warn('test/lab/cli/lab-cli.test.ts: skipped, the lab needs root')
const hasKubectl = spawnSync('kubectl', ['version', '--client'], {stdio: 'ignore'}).status === 0
if (!hasKubectl) console.warn('test/lab/cli/lab-cli.test.ts: no kubectl on PATH, the lab Kubernetes API check is skipped')

/** The PVE API as a plain client sees it: the token from the lab folder, the printed fingerprint pinned. */
function api(up: UpResult, method: string, apiPath: string, params: Record<string, string | number> = {}): Promise<Api> {
  const secret = readFileSync(up.proxmox.tokenSecretFile, 'utf8').trim()
  return pveCall({endpoint: up.proxmox.endpoint, fingerprint: up.proxmox.fingerprint, secret, tokenId: up.proxmox.tokenId}, method, apiPath, params)
}

async function task(up: UpResult, method: string, apiPath: string, params: Record<string, string | number> = {}): Promise<void> {
  const started = await api(up, method, apiPath, params)
  expect(started.status, `${method} ${apiPath}: ${started.statusText}`).toBe(200)
  const upid = started.data as string
  const status = await until(`task ${upid}`, async () => {
    const s = (await api(up, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`)).data as {exitstatus?: string; status: string}
    return s.status === 'stopped' ? s : undefined
  }, 60_000)
  expect(status.exitstatus).toBe('OK')
}

describe.skipIf(!isRoot)('kp lab', () => {
  const state = tempDir('kp-lab-cli-')
  const kp = (args: string[], timeoutMs = 120_000) => runKp([...args, '--state-dir', state], {timeoutMs})
  let up: UpResult

  beforeAll(async () => {
    const started = await kp(['lab', 'up', '--nodes', '3', '--cluster', '--json'], 20 * 60_000)
    expect(started.code, started.stderr + started.stdout).toBe(0)
    up = parseEnvelope<UpResult>(started.stdout).result!
  }, 21 * 60_000)

  afterAll(async () => {
    // Whatever happened above, leave the machine clean for the next file.
    await teardownLab({stateDir: `${state}/lab`}, {purge: true}).catch(() => {})
  })

  it('writes a kp.yaml that validates, with its secret and key private to root', async () => {
    expect(up.dir).toBe(`${state}/lab`)
    expect(up.nodes.map((n) => n.name)).toEqual(['cp1', 'w1', 'w2'])
    expect(up.proxmox.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(statSync(up.proxmox.tokenSecretFile).mode & 0o777).toBe(0o600)
    expect(statSync(up.sshKey).mode & 0o777).toBe(0o600)
    const validated = await runKp(['config', 'validate', '--config', up.config, '--json'])
    expect(validated.code, validated.stdout + validated.stderr).toBe(0)
    // The key is in OpenSSH's own format: ssh-keygen derives the same public key from it.
    const derived = await sh('ssh-keygen', ['-y', '-f', up.sshKey])
    const keyOf = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ')
    expect(derived.code, derived.stderr).toBe(0)
    expect(keyOf(derived.stdout)).toBe(keyOf(readFileSync(`${up.sshKey}.pub`, 'utf8')))
  })

  it('reports the running lab when started again', async () => {
    const again = await kp(['lab', 'up', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(parseEnvelope<UpResult>(again.stdout).result).toMatchObject({alreadyUp: true, supervisorPid: up.supervisorPid})
  })

  it('serves the Proxmox API to a plain client: 401 without a token, the template, a VM that boots into SSH', async () => {
    const anonymous = await new Promise<number>((resolve, reject) => {
      request(new URL('/api2/json/version', up.proxmox.endpoint), {rejectUnauthorized: false}, (res) => resolve(res.statusCode ?? 0)).on('error', reject).end()
    })
    expect(anonymous).toBe(401)
    expect((await api(up, 'GET', '/nodes/pve/qemu/9000/config')).data).toMatchObject({template: 1})

    const node = up.nodes[0]!
    const pub = readFileSync(`${up.sshKey}.pub`, 'utf8').trim()
    await task(up, 'POST', '/nodes/pve/qemu/9000/clone', {full: 1, name: node.name, newid: node.vmid})
    await task(up, 'POST', `/nodes/pve/qemu/${node.vmid}/config`, {
      agent: 'enabled=1', ciuser: up.sshUser, ipconfig0: `ip=${node.ip}/24,gw=10.77.0.1`, nameserver: '10.77.0.1',
      sshkeys: encodeURIComponent(`${pub}\n`).replaceAll("'", '%27'),
    })
    await task(up, 'POST', `/nodes/pve/qemu/${node.vmid}/status/start`)
    await until('the guest agent', async () => (await api(up, 'POST', `/nodes/pve/qemu/${node.vmid}/agent/ping`)).status === 200, 60_000)
    const hostKey = (await api(up, 'GET', `/nodes/pve/qemu/${node.vmid}/agent/file-read`, {file: '/etc/ssh/ssh_host_ed25519_key.pub'})).data as {content: string}

    const ssh = new SshClient(state, up.sshKey, up.sshUser)
    ssh.pin(node.ip, hostKey.content)
    expect((await ssh.ok(node.ip, 'hostname')).trim()).toBe(node.name)
    expect(await ssh.ok(node.ip, 'sudo -n id -u')).toBe('0\n')
  })

  it.skipIf(!hasKubectl)('with --cluster, serves a Kubernetes API the real kubectl reads with the lab kubeconfig', async () => {
    expect(statSync(up.kubeconfig!).mode & 0o777).toBe(0o600)
    expect(readFileSync(up.config, 'utf8')).toMatch(/kubeconfig: \.\/kubeconfig/)
    const nodes = await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'nodes', '-o', 'json'])
    expect(nodes.code, nodes.stderr).toBe(0)
    const items = (JSON.parse(nodes.stdout) as {items: Array<{metadata: {name: string}}>}).items
    expect(items.map((n) => n.metadata.name).sort()).toEqual(['cp1', 'w1', 'w2'])
    const pods = await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'pods', '-A', '-o', 'name'])
    expect(pods.stdout).toContain('pod/debug')
  })

  it.skipIf(!hasKubectl)("follows each VM's kubelet service, and kp lab fault's Kubernetes faults", async () => {
    const ready = async (node: string) => (await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'node', node, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout
    // cp1's VM (booted above) runs no kubelet yet; w1 has no VM, so the demo keeps it Ready.
    await until('cp1 NotReady', async () => (await ready('cp1')) === 'Unknown', 30_000)
    expect(await ready('w1')).toBe('True')
    const node = up.nodes[0]!
    const hostKey = (await api(up, 'GET', `/nodes/pve/qemu/${node.vmid}/agent/file-read`, {file: '/etc/ssh/ssh_host_ed25519_key.pub'})).data as {content: string}
    const ssh = new SshClient(state, up.sshKey, up.sshUser)
    ssh.pin(node.ip, hostKey.content)
    await ssh.ok(node.ip, "printf '[Service]\\nExecStart=/usr/bin/kubelet\\n' | sudo -n tee /etc/systemd/system/kubelet.service >/dev/null && sudo -n systemctl start kubelet")
    await until('cp1 Ready once its kubelet runs', async () => (await ready('cp1')) === 'True', 30_000)

    expect((await kp(['lab', 'fault', 'w1', '--kubelet-down'])).code).toBe(0)
    await until('w1 NotReady', async () => (await ready('w1')) === 'Unknown', 30_000)
    const blocked = await kp(['lab', 'fault', '--block-pdb', 'default/web', '--json'])
    expect(blocked.code, blocked.stderr).toBe(0)
    expect(parseEnvelope<{state: {kube: {faults: unknown; kubeletDown: string[]}}}>(blocked.stdout).result!.state.kube).toMatchObject({faults: {blockPdbs: ['default/web']}, kubeletDown: ['w1']})
    const allowed = await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'pdb', 'web', '-o', 'jsonpath={.status.disruptionsAllowed}'])
    expect(allowed.stdout).toBe('0')
    expect((await kp(['lab', 'fault', '--clear'])).code).toBe(0)
    await until('w1 Ready again', async () => (await ready('w1')) === 'True', 30_000)
    const wrong = await kp(['lab', 'fault', 'nosuch', '--kubelet-down'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('has no node "nosuch"')
  })

  it.skipIf(!hasKubectl)("rehearses the README's drain and health on the lab: a blocked drain fails by its timeout, kp resume finishes it", async () => {
    const onLab = (args: string[]) => kp([...args, '--config', up.config])
    const health = await onLab(['health', '--output', 'json'])
    const report = JSON.parse(health.stdout) as {checks: Array<{name: string; status: string}>}
    const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]))
    // Only cp1 has a VM yet: Proxmox is CRITICAL for w1 and w2, the cluster itself is healthy.
    expect(status).toMatchObject({api: 'OK', etcd: 'OK', nodes: 'OK', proxmox: 'CRITICAL'})
    expect(health.code).toBe(2)

    const dry = await onLab(['node', 'drain', 'w1', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/default\/debug/)

    expect((await kp(['lab', 'fault', '--block-pdb', 'default/web'])).code).toBe(0)
    const blocked = await onLab(['node', 'drain', 'w1', '--delete-emptydir-data', '--force', '--grace-period', '1', '--timeout', '15s'])
    expect(blocked.code, blocked.stdout).toBe(1)
    expect(blocked.stderr).toContain('default/web')
    expect(blocked.stderr).toMatch(/kp resume \S+/)
    const cordoned = async () => {
      const got = await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'node', 'w1', '-o', 'jsonpath={.spec.unschedulable}'])
      expect(got.code, got.stderr).toBe(0) // an empty answer must mean "schedulable", not "kubectl failed"
      return got.stdout
    }
    expect(await cordoned()).toBe('') // it was schedulable before: the failed drain uncordoned it

    expect((await kp(['lab', 'fault', '--clear'])).code).toBe(0)
    const resumed = await kp(['resume'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await cordoned()).toBe('true')
    const left = await sh('kubectl', ['--kubeconfig', up.kubeconfig!, 'get', 'pods', '-A', '--field-selector', 'spec.nodeName=w1', '-o', 'jsonpath={.items[*].metadata.name}'])
    expect(left.code, left.stderr).toBe(0)
    expect(left.stdout).toContain('node-exporter') // the DaemonSet pod stays, so the list is real
    expect(left.stdout.split(' ').filter((p) => p !== '' && !p.startsWith('node-exporter'))).toEqual([])
    expect((await onLab(['node', 'uncordon', 'w1'])).code).toBe(0)
    expect(await cordoned()).toBe('')
  })

  it('shows components and VMs in kp lab status', async () => {
    const status = await kp(['lab', 'status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    const result = parseEnvelope<{components: Array<{name: string; ok: boolean}>; state: string; vms: Array<{booted: boolean; ip?: string; name: string; template: boolean}>}>(status.stdout).result!
    expect(result.state).toBe('ready')
    expect(result.components.every((c) => c.ok)).toBe(true)
    expect(result.vms).toEqual(expect.arrayContaining([
      expect.objectContaining({name: 'debian-12-cloudinit', template: true}),
      expect.objectContaining({booted: true, ip: '10.77.0.11', name: 'cp1'}),
    ]))
    const text = await kp(['lab', 'status'])
    expect(text.stdout).toMatch(/201\s+cp1\s+running\s+10\.77\.0\.11/)
  })

  it('injects and clears faults: a silent guest agent, a failing API', async () => {
    const down = await kp(['lab', 'fault', 'cp1', '--agent-down'])
    expect(down.code, down.stderr).toBe(0)
    const ping = await api(up, 'POST', '/nodes/pve/qemu/201/agent/ping')
    expect([ping.status, ping.statusText]).toEqual([500, 'QEMU guest agent is not running'])

    expect((await kp(['lab', 'fault', '--api-error-rate', '1', '--api-error-status', '503'])).code).toBe(0)
    expect((await api(up, 'GET', '/version')).status).toBe(503)

    const cleared = await kp(['lab', 'fault', '--clear', '--json'])
    expect(cleared.code, cleared.stderr).toBe(0)
    expect((await api(up, 'GET', '/version')).status).toBe(200)
    expect((await api(up, 'POST', '/nodes/pve/qemu/201/agent/ping')).status).toBe(200)
  })

  it('names the VMs it has when a fault names one it has not (exit 2)', async () => {
    const wrong = await kp(['lab', 'fault', 'nosuch', '--agent-down'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('the lab has no VM "nosuch"')
    expect(wrong.stderr).toContain('cp1 (201)')
    expect(wrong.stderr).not.toMatch(/\n\s+at /)
  })

  it('kp lab down leaves no process, mount, namespace, link, lock or folder behind', async () => {
    const init = Number(readFileSync(`${up.dir}/vms/201/init.pid`, 'utf8'))
    const down = await kp(['lab', 'down', '--json'])
    expect(down.code, down.stderr).toBe(0)
    expect(parseEnvelope<{supervisor: string}>(down.stdout).result!.supervisor).toBe('stopped')

    expect(existsSync(up.dir)).toBe(false)
    expect(existsSync(`/proc/${up.supervisorPid}`)).toBe(false)
    expect(existsSync(`/proc/${init}`)).toBe(false)
    expect(processesMentioning([up.dir])).toEqual([])
    expect(mountsUnder(up.dir)).toEqual([])
    expect((await sh('ip', ['netns', 'list'])).stdout).not.toMatch(/kplab/)
    expect((await sh('ip', ['-o', 'link', 'show'])).stdout).not.toMatch(/kplab/)
    // No sshd or apt-cacher-ng anywhere whose root or arguments point into the lab.
    for (const pid of (await sh('sh', ['-c', 'pgrep -x sshd; pgrep -x apt-cacher-ng; true'])).stdout.split('\n').filter(Boolean)) {
      expect((await sh('readlink', [`/proc/${pid}/root`])).stdout).not.toContain(up.dir)
    }
    expect(existsSync(LAB_LOCK_FILE) && labAlive(JSON.parse(readFileSync(LAB_LOCK_FILE, 'utf8')) as {pid: number; stateDir: string})).toBe(false)

    const status = await kp(['lab', 'status', '--json'])
    expect(parseEnvelope<{state: string}>(status.stdout).result!.state).toBe('down')
  })
})

/**
 * kp vm seed / list / snapshot / rollback / destroy against the lab, run the way a user runs them:
 * kp lab up, then kp with the lab's kp.yaml. The world is checked afterwards with plain tools: the
 * OpenSSH client with kp's known_hosts only, the Proxmox fake's request log (every request valid
 * against the real API schema), the journal and the state dir. Needs root.
 */
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {parse as parseYaml, stringify as toYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../src/lib/lab/host/index.js'
import {checkRequestLog, type RequestLogEntry} from '../../src/lib/lab/proxmox/index.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../helpers/cli.js'
import {pveCall} from '../helpers/pve.js'
import {isRoot, SshClient} from '../lab/host/helpers.js'

if (!isRoot) console.warn('test/vm/vm-lab.test.ts: skipped, the lab needs root')

interface Unit {
  changed: boolean
  status: string
  target?: string
}

interface RunResultJson {
  changed: number
  runId: string
  status: string
  steps: Array<{id: string; units: Unit[]}>
}

describe.skipIf(!isRoot)('kp vm against the lab', () => {
  const state = tempDir('kp-vm-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const requestsFile = path.join(lab, 'pve', 'proxmox-requests.jsonl')
  const kp = (args: string[], options: {config?: string; timeoutMs?: number} = {}) =>
    runKp([...args, '--state-dir', state, '--config', options.config ?? config], {timeoutMs: options.timeoutMs ?? 180_000})
  const requests = (): RequestLogEntry[] => (existsSync(requestsFile) ? readFileSync(requestsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLogEntry) : [])
  // Changes only: the guest agent's ping is a POST in the API but reads nothing and writes nothing.
  const writes = (since: number) => requests().slice(since).filter((r) => r.method !== 'GET' && !r.path.endsWith('/agent/ping'))
  let token = ''
  let ssh: SshClient

  /** A copy of the lab's kp.yaml with changes, beside it (relative paths keep working). */
  function variant(name: string, edit: (doc: {nodes: Array<Record<string, unknown>>}) => void): string {
    const doc = parseYaml(readFileSync(config, 'utf8')) as {nodes: Array<Record<string, unknown>>}
    edit(doc)
    const file = path.join(lab, `${name}.yaml`)
    writeFileSync(file, toYaml(doc))
    return file
  }

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '3', '--pve-nodes', '2', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    token = readFileSync(path.join(lab, 'secrets', 'pve-token'), 'utf8').trim()
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
  }, 21 * 60_000)

  afterAll(async () => {
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('--dry-run plans a clone for every node and sends no write call', async () => {
    const mark = requests().length
    const plan = await kp(['vm', 'seed', '--dry-run'])
    expect(plan.code, plan.stderr + plan.stdout).toBe(0)
    for (const [vmid, name] of [[201, 'cp1'], [202, 'w1'], [203, 'w2']] as const) expect(plan.stdout).toContain(`clone template 9000 to VM ${vmid} "${name}"`)
    expect(requests().length).toBeGreaterThan(mark)
    expect(writes(mark)).toEqual([])
  })

  it('seeds three VMs that the OpenSSH client reaches with the pinned host keys only', async () => {
    const seeded = await kp(['vm', 'seed', '--json'])
    expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0)
    const result = parseEnvelope<RunResultJson>(seeded.stdout).result!
    expect(result.status).toBe('done')
    expect(result.steps.find((s) => s.id === 'clone')!.units.map((u) => [u.target, u.changed])).toEqual([['cp1', true], ['w1', true], ['w2', true]])

    // kp's known_hosts, and nothing else: StrictHostKeyChecking=yes refuses any host not in it.
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    for (const [ip, name] of [['10.77.0.11', 'cp1'], ['10.77.0.12', 'w1'], ['10.77.0.13', 'w2']]) {
      expect((await ssh.ok(ip!, 'hostname')).trim()).toBe(name)
    }

    expect(readFileSync(path.join(lab, 'known_hosts'), 'utf8').trim().split('\n')).toHaveLength(3)
  })

  it('a second run changes nothing and says so', async () => {
    const mark = requests().length
    const again = await kp(['vm', 'seed'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('0 changed')
    expect(again.stdout).toContain('Nothing to change')
    expect(writes(mark)).toEqual([])
  })

  it('kp vm list shows each node with its state, IP and no drift', async () => {
    const list = await kp(['vm', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    const rows = parseEnvelope<Array<{drift: string[]; ip: string; managed: string; name: string; state: string}>>(list.stdout).result!
    expect(rows.map((r) => [r.name, r.state, r.ip, r.managed, r.drift])).toEqual([
      ['cp1', 'running', '10.77.0.11', 'kp', []],
      ['w1', 'running', '10.77.0.12', 'kp', []],
      ['w2', 'running', '10.77.0.13', 'kp', []],
    ])
  })

  it('shows a changed size as drift, applies it, and reboots only when asked and confirmed', async () => {
    const bigger = variant('bigger', (doc) => {
      doc.nodes[1]!.cores = 4
    })
    const plan = await kp(['vm', 'seed', 'w1', '--dry-run'], {config: bigger})
    expect(plan.stdout).toMatch(/set cores: 2 → 4 \(takes effect at the next boot/)

    const applied = await kp(['vm', 'seed', 'w1'], {config: bigger})
    expect(applied.code, applied.stderr).toBe(0)
    const list = parseEnvelope<Array<{name: string; pending: string[]}>>((await kp(['vm', 'list', '--json'], {config: bigger})).stdout).result!
    expect(list.find((r) => r.name === 'w1')!.pending).toContain('cores')

    const refused = await kp(['vm', 'seed', 'w1', '--reboot'], {config: bigger})
    expect(refused.code).toBe(4)
    const rebooted = await kp(['vm', 'seed', 'w1', '--reboot', '--yes', '--json'], {config: bigger})
    expect(rebooted.code, rebooted.stderr + rebooted.stdout).toBe(0)
    const reboot = parseEnvelope<RunResultJson>(rebooted.stdout).result!.steps.find((s) => s.id === 'reboot')!
    expect(reboot.units).toEqual([expect.objectContaining({changed: true, target: 'w1'})])
    const after = parseEnvelope<Array<{name: string; pending: string[]}>>((await kp(['vm', 'list', '--json'], {config: bigger})).stdout).result!
    expect(after.find((r) => r.name === 'w1')!.pending).toEqual([])
    await ssh.waitUp('10.77.0.12', 60_000)
  })

  it('refuses a VMID held by a VM kp does not manage, before any change', async () => {
    // A foreign VM, made the way an operator would: a clone without kp's tags.
    const endpoint = 'https://10.77.0.1:8006'
    const cloned = await pveCall({endpoint, secret: token, tokenId: 'kp@pve!kp-lab'}, 'POST', '/nodes/pve/qemu/9000/clone', {name: 'someone-else', newid: 250})
    expect(cloned.status, cloned.statusText).toBe(200)
    const collision = variant('collision', (doc) => {
      doc.nodes.push({ip: '10.77.0.30', name: 'w9', role: 'worker', vmid: 250})
    })
    await sleep(1500) // the fake's clone task
    const mark = requests().length
    const refused = await kp(['vm', 'seed', 'w9'], {config: collision})
    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain('VMID 250 (node w9) is "someone-else"')
    expect(refused.stderr).toContain('nothing was changed')
    expect(writes(mark)).toEqual([])
  })

  it('kill -9 during the clone, then kp resume: one clone in all, and the VM is seeded', async () => {
    const more = variant('more', (doc) => {
      doc.nodes.push({ip: '10.77.0.15', name: 'w4', role: 'worker', vmid: 205})
    })
    // Slow API answers keep the clone step running long enough to be killed in it.
    expect((await runKp(['lab', 'fault', '--api-latency', '300', '--state-dir', state])).code).toBe(0)
    const {child, done} = spawnKp(['vm', 'seed', 'w4', '--state-dir', state, '--config', more])
    const runsDir = path.join(state, 'runs')
    for (let i = 0; ; i++) {
      const journals = existsSync(runsDir) ? readdirSync(runsDir).map((d) => path.join(runsDir, d, 'journal.json')).filter((f) => existsSync(f)) : []
      const running = journals.some((f) => {
        const j = JSON.parse(readFileSync(f, 'utf8')) as {status: string; steps: Array<{id: string; units: Array<{status: string}>}>}
        return j.status === 'running' && j.steps.find((s) => s.id === 'clone')?.units.some((u) => u.status === 'running')
      })
      if (running) break
      expect(i, 'the clone step never started').toBeLessThan(600)
      await sleep(20)
    }

    // While kp works, no process on the machine has the token secret in its arguments.
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      let cmdline = ''
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        continue // gone
      }

      expect(cmdline, `process ${pid}`).not.toContain(token)
    }

    child.kill('SIGKILL')
    await done
    expect((await runKp(['lab', 'fault', '--clear', '--state-dir', state])).code).toBe(0)
    // No --config: resume uses the file the run was started with.
    const resumed = await runKp(['resume', '--state-dir', state], {timeoutMs: 180_000})
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0)
    const clones = requests().filter((r) => r.method === 'POST' && r.route === '/nodes/{node}/qemu/{vmid}/clone' && r.params.newid === '205')
    expect(clones).toHaveLength(1)
    expect((await ssh.ok('10.77.0.15', 'hostname')).trim()).toBe('w4')
  })

  it('places a node on another Proxmox node (pveNode), cloning onto shared storage', async () => {
    const placed = variant('placed', (doc) => {
      ;(doc as unknown as {proxmox: Record<string, unknown>}).proxmox.storage = 'shared'
      doc.nodes.push({ip: '10.77.0.17', name: 'w6', pveNode: 'pve2', role: 'worker', vmid: 207})
    })
    const seeded = await kp(['vm', 'seed', 'w6'], {config: placed})
    expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0)
    const clone = requests().find((r) => r.route === '/nodes/{node}/qemu/{vmid}/clone' && r.params.newid === '207')
    expect(clone?.params).toMatchObject({storage: 'shared', target: 'pve2'})
    const rows = parseEnvelope<Array<{name: string; node: string}>>((await kp(['vm', 'list', '--json'], {config: placed})).stdout).result!
    expect(rows.find((r) => r.name === 'w6')?.node).toBe('pve2')
    expect((await ssh.ok('10.77.0.17', 'hostname')).trim()).toBe('w6')
  })

  it("a failing clone task: its exit status reaches the user with the runbook section", async () => {
    const one = variant('one-more', (doc) => {
      doc.nodes.push({ip: '10.77.0.16', name: 'w5', role: 'worker', vmid: 206})
    })
    expect((await runKp(['lab', 'fault', '--fail-task', 'qmclone', '--fail-task-message', 'storage local-lvm is full', '--state-dir', state])).code).toBe(0)
    const failed = await kp(['vm', 'seed', 'w5'], {config: one})
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('storage local-lvm is full')
    expect(failed.stderr).toContain('runbooks/vm-seed.md § Clone the template')
    expect(failed.stderr).toMatch(/kp resume \d{8}-\d{6}-/)
  })

  it('a guest agent that never answers times out with a hint', async () => {
    const one = path.join(lab, 'one-more.yaml')
    expect((await runKp(['lab', 'fault', '--clear', '--state-dir', state])).code).toBe(0)
    // The clone fault was used up; finish that run first.
    const resumed = await runKp(['resume', '--state-dir', state], {timeoutMs: 180_000})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect((await runKp(['lab', 'fault', 'w5', '--agent-down', '--state-dir', state])).code).toBe(0)
    const silent = await runKp(['run', 'vm-seed', '--param', 'nodes=w5', '--param', 'agentTimeoutMs=2000', '--state-dir', state, '--config', one], {timeoutMs: 120_000})
    expect(silent.code).toBe(1)
    expect(silent.stderr).toContain('the guest agent of VM 206 (w5) did not answer within 2 s')
    expect(silent.stderr).toContain('qemu-guest-agent')
    expect((await runKp(['lab', 'fault', '--clear', '--state-dir', state])).code).toBe(0)
  })

  it('reads are retried through a burst of 5xx answers', async () => {
    expect((await runKp(['lab', 'fault', '--api-error-rate', '0.3', '--api-error-method', 'GET', '--api-error-status', '503', '--state-dir', state])).code).toBe(0)
    const mark = requests().length
    const list = await kp(['vm', 'list', '--json'])
    expect((await runKp(['lab', 'fault', '--clear', '--state-dir', state])).code).toBe(0)
    expect(list.code, list.stderr).toBe(0)
    expect(requests().slice(mark).some((r) => r.status === 503)).toBe(true)
  })

  it('snapshot, change, roll back: the change is gone and the VM runs again', async () => {
    expect((await kp(['vm', 'snapshot', 'base', 'w2'])).code).toBe(0)
    await ssh.ok('10.77.0.13', 'echo later | sudo tee /etc/kp-after-snapshot >/dev/null')
    const noTty = await kp(['vm', 'rollback', 'base', 'w2'])
    expect(noTty.code).toBe(4)
    expect((await ssh.run('10.77.0.13', 'test -e /etc/kp-after-snapshot')).code).toBe(0)
    const rolled = await kp(['vm', 'rollback', 'base', 'w2', '--yes'])
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0)
    await ssh.waitUp('10.77.0.13', 60_000)
    expect((await ssh.run('10.77.0.13', 'test -e /etc/kp-after-snapshot')).code).toBe(1)
  })

  it('destroys a VM only when confirmed, and forgets its host key', async () => {
    const refused = await kp(['vm', 'destroy', 'w2'])
    expect(refused.code).toBe(4)
    const destroyed = await kp(['vm', 'destroy', 'w2', '--yes'])
    expect(destroyed.code, destroyed.stderr + destroyed.stdout).toBe(0)
    expect(readFileSync(path.join(lab, 'known_hosts'), 'utf8')).not.toContain('10.77.0.13 ')
    const rows = parseEnvelope<Array<{managed: string; name: string}>>((await kp(['vm', 'list', '--json'])).stdout).result!
    expect(rows.find((r) => r.name === 'w2')!.managed).toBe('missing')
  })

  it('sent only requests the real API schema accepts, and kept the token secret out of the state dir', () => {
    expect(checkRequestLog(requests())).toEqual([])
    const files: string[] = []
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const p = path.join(dir, entry)
        if (p === lab) continue // the lab folder holds the secret file by design
        if (statSync(p).isDirectory()) walk(p)
        else files.push(p)
      }
    }

    walk(state)
    expect(files.length).toBeGreaterThan(5)
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toContain(token)
  })
})

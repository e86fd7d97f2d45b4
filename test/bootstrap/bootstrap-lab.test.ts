/**
 * kp bootstrap end to end on the lab, the way a user runs it: lab up, kp bootstrap, then the real
 * kubectl with the fetched kubeconfig, kp health, the VMs' call logs. The 1+2 cluster is built by a
 * chain of runs each killed (SIGKILL, the journal just saved) at the next step boundary and resumed,
 * so every boundary is crossed by a kill -9; the 3-control-plane cluster is built in one run.
 * Needs root.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../src/lib/lab/host/index.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../helpers/cli.js'
import {isRoot, SshClient} from '../lab/host/helpers.js'
import {KUBECTL} from '../lab/kube/helpers.js'

if (!isRoot) console.warn('test/bootstrap/bootstrap-lab.test.ts: skipped, the lab needs root')

const VERSION = '1.31.8'

interface Journal {
  id: string
  status: string
  steps: Array<{id: string; status: string}>
}

function kubectl(kubeconfig: string, args: string[]): Promise<{code: number; stderr: string; stdout: string}> {
  return new Promise((resolve) => {
    execFile(KUBECTL ?? 'kubectl', ['--kubeconfig', kubeconfig, ...args], {encoding: 'utf8', timeout: 60_000}, (error, stdout, stderr) => {
      resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, stdout})
    })
  })
}

/** Every file under a folder, with its content. */
function filesUnder(dir: string): Array<{file: string; text: string}> {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .map((file) => ({file, text: readFileSync(file, 'latin1')}))
}

/** `ps` every 100 ms while kp runs: the argv of every process on the machine, the VMs' included. */
function processSampler(): {stop: () => Promise<string[]>} {
  const lines = new Set<string>()
  let running = true
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        execFile('ps', ['-eo', 'args', '--no-headers'], {encoding: 'utf8', maxBuffer: 16 * 1024 * 1024}, (_e, stdout) => {
          for (const l of stdout.split('\n')) lines.add(l)
          resolve()
        })
      })
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return [...lines]
    },
  }
}

const TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g
const HEX64 = /(?<![0-9a-zA-Z:])[0-9a-f]{64}(?![0-9a-zA-Z])/g
const PLACEHOLDERS = new Set(['abcdef.0123456789abcdef', '0123456789012345678901234567890123456789012345678901234567890123'])

describe.skipIf(!isRoot)('kp bootstrap on the lab', () => {
  const state = tempDir('kp-bootstrap-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const adminConf = path.join(state, 'clusters', 'lab', 'admin.conf')
  const kp = (args: string[], timeoutMs = 900_000) => runKp([...args, '--state-dir', state, '--config', config], {timeoutMs})
  let ssh: SshClient
  const calls = async (ip: string) =>
    (await ssh.ok(ip, 'sudo cat /var/log/kp-lab/calls.log')).trim().split('\n').map((l) => JSON.parse(l) as {args: string[]; cmd: string})
  const kubeadmCalls = async (ip: string, sub: string) => (await calls(ip)).filter((c) => c.cmd === 'kubeadm' && c.args[0] === sub && c.args[1] !== 'phase')

  afterAll(async () => {
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  describe('1 control plane + 2 workers, killed at every step boundary', () => {
    let psLines: string[] = []

    beforeAll(async () => {
      const up = await runKp(['lab', 'up', '--nodes', '3', '--control-planes', '1', '--state-dir', state], {timeoutMs: 20 * 60_000})
      expect(up.code, up.stderr + up.stdout).toBe(0)
      ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    }, 25 * 60_000)

    it('every kill -9 leaves a run that kp resume finishes; kubeadm init runs exactly once', async () => {
      const sampler = processSampler()
      const runs = path.join(state, 'runs')
      let runId: string | undefined
      const journal = () => JSON.parse(readFileSync(path.join(runs, runId!, 'journal.json'), 'utf8')) as Journal
      const killedAt: string[] = []
      for (let attempt = 0; ; attempt++) {
        expect(attempt, 'too many attempts').toBeLessThan(60)
        const done = runId ? journal().steps.filter((s) => s.status === 'done' || s.status === 'skipped').length : 0
        const steps = runId ? journal().steps : undefined
        // The next boundary: after the first step not yet finished.
        const next = steps ? steps.find((s) => s.status !== 'done' && s.status !== 'skipped')?.id : 'preflight'
        const args = runId ? ['resume', runId] : ['bootstrap', '--yes']
        const child = spawnKp([...args, '--state-dir', state, '--config', config], {env: next ? {KP_TEST_KILL_AFTER_STEP: next} : {}})
        const result = await child.done
        if (!runId) runId = readdirSync(runs)[0]
        if (result.code === 0) break
        expect(result.code, `${args.join(' ')} (kill after ${next}): ${result.stderr}${result.stdout}`).toBe(137)
        const after = journal().steps.filter((s) => s.status === 'done' || s.status === 'skipped').length
        expect(after, `no progress after ${next}`).toBeGreaterThan(done)
        killedAt.push(next!)
      }

      psLines = await sampler.stop()
      const final = journal()
      expect(final.status).toBe('done')
      // Killed after every step, the last included (the final resume only had its facts to gather).
      expect(killedAt).toEqual(final.steps.map((s) => s.id))
      expect(await kubeadmCalls('10.77.0.11', 'init')).toHaveLength(1)
      for (const ip of ['10.77.0.12', '10.77.0.13']) expect(await kubeadmCalls(ip, 'join'), ip).toHaveLength(1)
    }, 40 * 60_000)

    it.skipIf(!KUBECTL)('the real kubectl with the fetched kubeconfig lists 3 Ready nodes at the version', async () => {
      expect(statSync(adminConf).mode & 0o777).toBe(0o600)
      const nodes = await kubectl(adminConf, ['get', 'nodes', '-o', 'json'])
      expect(nodes.code, nodes.stderr).toBe(0)
      const items = (JSON.parse(nodes.stdout) as {items: Array<{metadata: {labels: Record<string, string>; name: string}; status: {conditions: Array<{status: string; type: string}>; nodeInfo: {kubeletVersion: string}}}>}).items
      expect(items.map((n) => n.metadata.name).sort()).toEqual(['cp1', 'w1', 'w2'])
      for (const n of items) {
        expect(n.status.conditions.find((c) => c.type === 'Ready')?.status, n.metadata.name).toBe('True')
        expect(n.status.nodeInfo.kubeletVersion).toBe(`v${VERSION}`)
      }
      expect('node-role.kubernetes.io/control-plane' in items.find((n) => n.metadata.name === 'cp1')!.metadata.labels).toBe(true)
    })

    it('kp health exits 0', async () => {
      const health = await kp(['health'])
      expect(health.code, health.stdout + health.stderr).toBe(0)
    })

    it('no join token or certificate key in the state dir, the run logs or any process argv', async () => {
      const hash = createHash('sha256').update(readFileSync(config)).digest('hex')
      const leaks: string[] = []
      const scan = (where: string, text: string) => {
        for (const m of text.matchAll(TOKEN)) if (!PLACEHOLDERS.has(m[0])) leaks.push(`${where}: token-like ${m[0]}`)
        for (const m of text.matchAll(HEX64)) if (!PLACEHOLDERS.has(m[0]) && m[0] !== hash) leaks.push(`${where}: key-like ${m[0]}`)
      }
      for (const {file, text} of filesUnder(state).filter((f) => !f.file.startsWith(lab + path.sep))) scan(file, text)
      for (const line of psLines) scan('ps', line)
      expect(psLines.length).toBeGreaterThan(100)
      expect(psLines.some((l) => l.includes('kubeadm join --config /run/kp/kubeadm-join.yaml'))).toBe(true)
      expect(leaks).toEqual([])
      // The secrets did pass through kp: their output lines were withheld from the log.
      const runLog = filesUnder(path.join(state, 'runs')).find((f) => f.file.endsWith('run.log'))
      expect(runLog?.text).toMatch(/output withheld/)
    })

    it('a second kp bootstrap changes nothing on the nodes and does not init again', async () => {
      const again = await kp(['bootstrap', '--yes', '--json'])
      expect(again.code, again.stderr + again.stdout).toBe(0)
      const steps = parseEnvelope<{steps: Array<{id: string; status: string}>}>(again.stdout).result!.steps
      for (const id of ['kubeadm-init', 'join-workers']) expect(steps.find((s) => s.id === id)?.status, id).toBe('skipped')
      expect(await kubeadmCalls('10.77.0.11', 'init')).toHaveLength(1)
    })
  })

  describe('3 control planes', () => {
    beforeAll(async () => {
      expect((await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})).code).toBe(0)
      const up = await runKp(['lab', 'up', '--nodes', '4', '--control-planes', '3', '--state-dir', state], {timeoutMs: 20 * 60_000})
      expect(up.code, up.stderr + up.stdout).toBe(0)
      ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    }, 25 * 60_000)

    it('bootstraps, joins cp2 and cp3 one at a time with fresh certificate keys, and is healthy', async () => {
      const boot = await kp(['bootstrap', '--yes'])
      expect(boot.code, boot.stderr + boot.stdout).toBe(0)
      expect(await kubeadmCalls('10.77.0.11', 'init')).toHaveLength(1)
      const cp1 = await calls('10.77.0.11')
      expect(cp1.filter((c) => c.cmd === 'kubeadm' && c.args.join(' ') === 'init phase upload-certs --upload-certs')).toHaveLength(2)
      for (const ip of ['10.77.0.12', '10.77.0.13', '10.77.0.14']) expect(await kubeadmCalls(ip, 'join'), ip).toHaveLength(1)
      if (KUBECTL) {
        const nodes = await kubectl(adminConf, ['get', 'nodes', '-l', 'node-role.kubernetes.io/control-plane', '-o', 'name'])
        expect(nodes.stdout.trim().split('\n').sort()).toEqual(['node/cp1', 'node/cp2', 'node/cp3'])
      }
      const health = await kp(['health'])
      expect(health.code, health.stdout + health.stderr).toBe(0)
    }, 30 * 60_000)
  })
})

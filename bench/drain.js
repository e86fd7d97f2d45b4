#!/usr/bin/env node
// Benchmarks print numbers; they never assert. Run after `npm run build`.
// kp node drain beside the real kubectl drain: one node with 100 pods (four Deployments, one with a
// budget that allows every disruption), every API request 50 ms slower (a cluster across a WAN or
// a busy API server), each tool on its own identical fresh fake. Wall time and API requests.
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {RESOURCES, startFakeKube} from '../dist/lib/lab/kube/index.js'

const root = path.resolve(import.meta.dirname, '..')
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p))
const PODS = 100
const DEPLOYMENTS = 4
const LATENCY_MS = 50

const def = (name) => RESOURCES.find((r) => r.name === name)

function until(what, check, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) return resolve()
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(poll, 20)
    }
    poll()
  })
}

/** cp1, w1 and w2; 100 pods on w1 (w2 is cordoned while they are placed, then takes the replacements). */
async function cluster(dir) {
  const kube = await startFakeKube({certDir: path.join(dir, 'pki'), controllerIntervalMs: 100, gracePeriodScale: 0.01, stateFile: path.join(dir, 'state.json')})
  kube.registerNode('cp1', {controlPlane: true})
  kube.registerNode('w1')
  kube.registerNode('w2')
  const patchNode = (name, unschedulable) => kube.cluster.patch(def('nodes'), undefined, name, 'application/merge-patch+json', {spec: {unschedulable}})
  patchNode('w2', true)
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const app = `app${i}`
    const template = {metadata: {labels: {app}}, spec: {containers: [{image: 'nginx:1.27', name: app}], terminationGracePeriodSeconds: 30}}
    kube.cluster.create(def('deployments'), 'default', {metadata: {name: app}, spec: {replicas: PODS / DEPLOYMENTS, selector: {matchLabels: {app}}, template}})
  }

  kube.cluster.create(def('poddisruptionbudgets'), 'default', {metadata: {name: 'app0'}, spec: {maxUnavailable: '100%', selector: {matchLabels: {app: 'app0'}}}})
  const running = () => kube.list('pods').filter((p) => p.spec.nodeName === 'w1' && p.status?.phase === 'Running').length
  await until(`${PODS} pods running on w1`, () => running() === PODS)
  patchNode('w2', null)
  kube.setFaults({latency: [{ms: LATENCY_MS}]})
  return kube
}

function run(command, args, env) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint()
    const child = spawn(command, args, {env: {...process.env, NO_COLOR: '1', ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('close', (code) => resolve({code, output, seconds: Number(process.hrtime.bigint() - start) / 1e9}))
  })
}

async function drainWith(tool, scratch, kpBin) {
  const dir = mkdtempSync(path.join(scratch, `${tool}-`))
  const kube = await cluster(dir)
  try {
    const kubeconfig = await kube.writeKubeconfig(path.join(dir, 'kubeconfig'))
    let result
    let before
    if (tool === 'kubectl') {
      const args = ['--kubeconfig', kubeconfig, '--cache-dir', path.join(dir, 'cache')]
      // An operator's kubectl has its discovery cache warm.
      await run(KUBECTL, [...args, 'get', 'node', 'w1'])
      before = kube.requestLog.length
      result = await run(KUBECTL, [...args, 'drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force'])
    } else {
      const config = path.join(dir, 'kp.yaml')
      writeFileSync(config, `cluster:
  name: bench
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: 10.77.0.11
  cni: {manifest: https://example.invalid/cni.yaml}
  kubeconfig: ${JSON.stringify(kubeconfig)}
network: {gateway: 10.77.0.1, prefix: 24, dns: [10.77.0.1]}
ssh: {user: debian}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.77.0.11}
  - {name: w1, role: worker, vmid: 211, ip: 10.77.0.21}
`)
      before = kube.requestLog.length
      result = await run(process.execPath, [kpBin, 'node', 'drain', 'w1', '--delete-emptydir-data', '--force', '--yes', '-c', config], {KP_STATE_DIR: path.join(dir, 'state')})
    }

    if (result.code !== 0) throw new Error(`${tool} drain failed (exit ${result.code}):\n${result.output}`)
    const left = kube.list('pods').filter((p) => p.spec.nodeName === 'w1').length
    return {left, requests: kube.requestLog.length - before, seconds: result.seconds}
  } finally {
    await kube.close()
  }
}

export async function benchDrain({kpBin = path.join(root, 'bin', 'run.js'), log = console.log} = {}) {
  log(`\nkp node drain vs kubectl drain: ${PODS} pods on one node, ${LATENCY_MS} ms API latency`)
  if (!KUBECTL) {
    log('kubectl not found: skipped')
    return
  }

  const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bench-drain-'))
  try {
    const kp = await drainWith('kp', scratch, kpBin)
    const kubectl = await drainWith('kubectl', scratch, kpBin)
    log('tool'.padEnd(16), 'wall (s)'.padStart(9), 'requests'.padStart(9), '  pods left on w1')
    for (const [name, r] of [['kp', kp], ['kubectl', kubectl]]) log(name.padEnd(16), r.seconds.toFixed(2).padStart(9), String(r.requests).padStart(9), `  ${r.left}`)
    log('kp / kubectl'.padEnd(16), (kp.seconds / kubectl.seconds).toFixed(2).padStart(9), (kp.requests / kubectl.requests).toFixed(2).padStart(9))
  } finally {
    rmSync(scratch, {force: true, recursive: true})
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await benchDrain()

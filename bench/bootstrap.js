#!/usr/bin/env node
// kp bootstrap on the lab, from no VM to a healthy cluster, for 1+2 and 3+3 nodes: the wall time and
// each step's, from its units' start and end in the journal (units of a step overlap). Root only.
// Run alone with `node bench/bootstrap.js` (after npm run build), or as part of `npm run bench`.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

export function benchBootstrap({env, kpBin, log, layouts = [[1, 2], [3, 3]]}) {
  const kpJson = (args) => {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [kpBin, ...args, '--json'], {encoding: 'utf8', env, maxBuffer: 1 << 26})
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    if (r.status !== 0) throw new Error(`kp ${args.join(' ')} failed: ${r.stdout}${r.stderr}`)
    return {result: JSON.parse(r.stdout).result, seconds}
  }

  log('\nkp bootstrap on the lab (s)')
  for (const [cps, workers] of layouts) {
    const up = kpJson(['lab', 'up', '--nodes', String(cps + workers), '--control-planes', String(cps)])
    try {
      const boot = kpJson(['bootstrap', '--yes', '--config', up.result.config])
      const journal = JSON.parse(readFileSync(boot.result.journalFile, 'utf8'))
      log(`${cps}+${workers} nodes`.padEnd(28), boot.seconds.toFixed(1).padStart(6), '  in all')
      for (const step of journal.steps) {
        const units = step.units.filter((u) => u.startedAt && u.endedAt)
        if (units.length === 0) continue
        const seconds = (Math.max(...units.map((u) => Date.parse(u.endedAt))) - Math.min(...units.map((u) => Date.parse(u.startedAt)))) / 1000
        if (seconds >= 0.05) log(`  ${step.id}`.padEnd(28), seconds.toFixed(1).padStart(6))
      }
    } finally {
      kpJson(['lab', 'down'])
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root')
  const state = mkdtempSync(path.join(tmpdir(), 'kp-bench-bootstrap-'))
  try {
    benchBootstrap({env: {...process.env, KP_STATE_DIR: state, NO_COLOR: '1'}, kpBin: path.resolve(import.meta.dirname, '..', 'bin', 'run.js'), log: console.log})
  } finally {
    rmSync(state, {force: true, recursive: true})
  }
}

#!/usr/bin/env node
// kp node patch --all on the lab: 1 control plane and 3 workers with Deployments and budgets, a
// kernel-like update that asks for a reboot and a real Debian package published into the lab's
// repository. Prints each node's time and each step's share of it (from the run's journal), and kp's
// own overhead: the node's time less the drain (the pods' termination), the package upgrade, the
// reboot and the wait for the workloads — what is left is the check (apt-get update and -s included)
// and the snapshot.
// Then a second run (nothing to do). Root only. Run alone with `node bench/node-patch.js` (after
// npm run build).
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

const WORKLOADS = ['web', 'api'].map((app) => [
  {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: app, namespace: 'default'},
    spec: {replicas: 3, selector: {matchLabels: {app}}, template: {metadata: {labels: {app}}, spec: {containers: [{image: 'registry.k8s.io/pause:3.10', name: app}]}}}},
  {apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: {name: app, namespace: 'default'}, spec: {minAvailable: 2, selector: {matchLabels: {app}}}},
]).flat()

export function benchNodePatch({env, kpBin, log}) {
  const kp = (args, {json = true} = {}) => {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [kpBin, ...args, ...(json ? ['--json'] : [])], {encoding: 'utf8', env, maxBuffer: 1 << 26})
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    if (r.status !== 0) throw new Error(`kp ${args.join(' ')} failed: ${r.stdout}${r.stderr}`)
    return {result: json ? JSON.parse(r.stdout).result : r.stdout, seconds}
  }

  log('\nkp node patch --all on the lab: 1 control plane, 3 workers, 2 Deployments with budgets')
  const up = kp(['lab', 'up', '--nodes', '4', '--control-planes', '1'])
  try {
    const config = up.result.config
    kp(['bootstrap', '--yes', '--config', config])
    const kubeconfig = path.join(env.KP_STATE_DIR, 'clusters', 'lab', 'admin.conf')
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], {input: WORKLOADS.map((o) => JSON.stringify(o)).join('\n')})
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Available', 'deployment/web', 'deployment/api', '--timeout=180s'])
    for (const pkg of ['linux-image-kplab', 'procps']) kp(['lab', 'publish-update', pkg, '--config', config])

    const patch = kp(['node', 'patch', '--all', '--yes', '--config', config])
    const journal = JSON.parse(readFileSync(patch.result.journalFile, 'utf8'))
    const byNode = {}
    for (const step of journal.steps) {
      for (const unit of step.units) {
        if (!unit.target) continue
        byNode[unit.target] ??= {}
        byNode[unit.target][step.id] = (unit.durationMs ?? 0) / 1000
      }
    }

    const stepIds = journal.steps.filter((s) => s.units.some((u) => u.target)).map((s) => s.id)
    log('node'.padEnd(8), 'total'.padStart(8), ...stepIds.map((id) => id.padStart(10)), 'kp overhead'.padStart(12))
    for (const [node, steps] of Object.entries(byNode)) {
      const total = Object.values(steps).reduce((a, b) => a + b, 0)
      // What kp cannot make faster: the pods' termination (the drain waits for it, as kubectl drain does),
      // apt's own work, the reboot, and the workloads becoming available again.
      const outside = (steps.drain ?? 0) + (steps.upgrade ?? 0) + (steps.reboot ?? 0) + (steps.uncordon ?? 0)
      log(node.padEnd(8), `${total.toFixed(1)} s`.padStart(8), ...stepIds.map((id) => `${(steps[id] ?? 0).toFixed(1)} s`.padStart(10)), `${(total - outside).toFixed(1)} s`.padStart(12))
    }

    log('whole run'.padEnd(8), `${patch.seconds.toFixed(1)} s`.padStart(8))
    log('second run (nothing to do)'.padEnd(8), `${kp(['node', 'patch', '--all', '--yes', '--config', config]).seconds.toFixed(1)} s`)
  } finally {
    kp(['lab', 'down'])
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root')
  const state = mkdtempSync(path.join(tmpdir(), 'kp-bench-patch-'))
  try {
    benchNodePatch({env: {...process.env, KP_STATE_DIR: state, NO_COLOR: '1'}, kpBin: path.resolve(import.meta.dirname, '..', 'bin', 'run.js'), log: console.log})
  } finally {
    rmSync(state, {force: true, recursive: true})
  }
}

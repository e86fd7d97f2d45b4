#!/usr/bin/env node
// kp backup etcd on the lab with about 3000 pods stored in the real etcd of 3 control planes: the
// time of the whole command, the snapshot's size and key count, kp backup verify and kp backup
// restore of it. Root only. Run alone with `node bench/etcd-backup.js` (after npm run build).
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

const PODS = Number(process.env.KP_BENCH_PODS ?? 3000)

export function benchEtcdBackup({env, kpBin, log}) {
  const kp = (args, {json = true} = {}) => {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [kpBin, ...args, ...(json ? ['--json'] : [])], {encoding: 'utf8', env, maxBuffer: 1 << 26})
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    if (r.status !== 0) throw new Error(`kp ${args.join(' ')} failed: ${r.stdout}${r.stderr}`)
    return {result: json ? JSON.parse(r.stdout).result : r.stdout, seconds}
  }

  log(`\nkp backup etcd on the lab, 3 control planes, ${PODS} pods stored`)
  const up = kp(['lab', 'up', '--nodes', '3', '--control-planes', '3'])
  try {
    const config = up.result.config
    kp(['bootstrap', '--yes', '--config', config])
    const kubeconfig = path.join(env.KP_STATE_DIR, 'clusters', 'lab', 'admin.conf')
    // Pods that tolerate nothing stay Pending on the tainted control planes: stored all the same, which is what a snapshot holds.
    const manifest = JSON.stringify({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'bench', namespace: 'default'},
      spec: {replicas: PODS, selector: {matchLabels: {app: 'bench'}}, template: {metadata: {labels: {app: 'bench'}}, spec: {containers: [{image: 'registry.k8s.io/pause:3.10', name: 'pause'}]}}}})
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', '-'], {input: manifest})
    const deadline = Date.now() + 10 * 60_000
    for (;;) {
      const count = execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'get', 'pods', '-l', 'app=bench', '-o', 'name'], {encoding: 'utf8', maxBuffer: 1 << 26}).trim().split('\n').filter(Boolean).length
      if (count >= PODS) break
      if (Date.now() > deadline) throw new Error(`only ${count} of ${PODS} pods after 10 minutes`)
      spawnSync('sleep', ['2'])
    }

    for (let i = 1; i <= 3; i++) {
      const backup = kp(['backup', 'etcd', '--config', config])
      const list = kp(['backup', 'list', '--config', config]).result
      const newest = list[0]
      log(`backup ${i}`.padEnd(16), `${backup.seconds.toFixed(2)} s`.padStart(9), `${(statSync(newest.file).size / 1048576).toFixed(1)} MiB`.padStart(10), `${newest.keys} keys`.padStart(12))
    }

    const newest = kp(['backup', 'list', '--config', config]).result[0]
    log('verify'.padEnd(16), `${kp(['backup', 'verify', newest.file, '--config', config]).seconds.toFixed(2)} s`.padStart(9))
    log('restore'.padEnd(16), `${kp(['backup', 'restore', newest.file, '--yes', '--config', config]).seconds.toFixed(1)} s`.padStart(9))
  } finally {
    kp(['lab', 'down'])
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root')
  const state = mkdtempSync(path.join(tmpdir(), 'kp-bench-etcd-'))
  try {
    benchEtcdBackup({env: {...process.env, KP_STATE_DIR: state, NO_COLOR: '1'}, kpBin: path.resolve(import.meta.dirname, '..', 'bin', 'run.js'), log: console.log})
  } finally {
    rmSync(state, {force: true, recursive: true})
  }
}

#!/usr/bin/env node
// npm run demo: bring up the lab, bootstrap a cluster on it with kp, check its health, and say how
// to go on. The lab needs root (namespaces, overlay mounts, a bridge): run by another user, the demo
// runs itself again through sudo. Sizes: KP_DEMO_NODES (default 3) and KP_DEMO_CONTROL_PLANES (default 1).
import {spawnSync} from 'node:child_process'
import {accessSync, constants, existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const bin = path.join(root, 'bin', 'run.js')

function fail(message, code = 1) {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(code)
}

function kp(args, options = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {cwd: root, encoding: 'utf8', stdio: options.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', env: {...process.env, ...options.env}})
  if (result.error) fail(result.error.message)
  return result
}

/** Whether `name` is an executable on PATH, as the shell's `command -v` would find it. */
function onPath(name) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', name), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

if (process.getuid?.() !== 0) {
  if (!onPath('sudo')) {
    fail(`the lab needs root (namespaces, a bridge, overlay mounts): you are not root and sudo is not installed.
  As root (su - or a root login), run: cd ${root} && npm run demo`, 2)
  }

  // sudo resets the environment and its PATH may not hold this node: name both explicitly.
  const keep = Object.entries(process.env).filter(([k]) => k.startsWith('KP_DEMO_') || k === 'KP_STATE_DIR').map(([k, v]) => `${k}=${v}`)
  process.stderr.write('demo: the lab needs root: asking sudo\n')
  const again = spawnSync('sudo', ['--', 'env', ...keep, process.execPath, fileURLToPath(import.meta.url)], {cwd: root, stdio: 'inherit'})
  if (again.error) fail(again.error.message)
  process.exit(again.status ?? 1)
}

if (!existsSync(path.join(root, 'dist', 'commands', 'bootstrap.js'))) {
  if (spawnSync('npm', ['run', 'build'], {cwd: root, stdio: 'inherit'}).status !== 0) fail('npm run build failed')
}

const nodes = process.env.KP_DEMO_NODES ?? '3'
const controlPlanes = process.env.KP_DEMO_CONTROL_PLANES ?? '1'
console.log(`== kp lab up --nodes ${nodes} --control-planes ${controlPlanes}`)
const up = kp(['lab', 'up', '--nodes', nodes, '--control-planes', controlPlanes, '--json'], {capture: true})
if (up.status !== 0) fail(`kp lab up failed (exit ${up.status}); the lab's log is supervisor.log in its folder`, up.status ?? 1)
const lab = JSON.parse(up.stdout)
const result = lab.result ?? lab
const env = {KP_CONFIG: result.config}
console.log(`lab folder ${result.dir}; kp.yaml ${result.config}\n`)

console.log('== kp bootstrap --yes')
const boot = kp(['bootstrap', '--yes'], {env})
if (boot.status !== 0) fail(`kp bootstrap failed (exit ${boot.status}): fix what it names, then KP_CONFIG=${result.config} kp resume`, boot.status ?? 1)

console.log('\n== kp health')
const health = kp(['health'], {env})

console.log(`
The demo cluster is up${health.status === 0 ? ' and healthy' : ` (kp health exited ${health.status})`}. Go on with:
  export KP_CONFIG=${result.config}
  ./bin/run.js kubeconfig --merge                  # adds context kp-lab to ~/.kube/config
  kubectl --context kp-lab get nodes -o wide
  ./bin/run.js node drain w1 --dry-run             # what a drain would do
  ./bin/run.js runs list                           # the journal of what kp did
  ./bin/run.js lab down                            # removes the lab and everything it made
`)
process.exit(health.status ?? 1)

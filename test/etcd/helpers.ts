/**
 * For the tests that run a real etcd with client-certificate auth on 127.0.0.1 behind a real sshd:
 * the etcd PKI as kubeadm lays it out (ca, server, healthcheck-client), made with openssl, and the
 * crictl double that stands for the node's container runtime.
 */
import {type ChildProcess, execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

export function makeEtcdPki(dir: string): void {
  mkdirSync(dir, {recursive: true})
  const ssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'ignore'})
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=etcd-ca')
  for (const [name, cn, ext] of [
    ['server', 'cp1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'],
    ['healthcheck-client', 'kube-etcd-healthcheck-client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(path.join(dir, `${name}.ext`), ext)
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`)
  }
}

export interface CrictlDoubleOptions {
  /** Shell lines run first (the multi-node test picks the node there). */
  prelude?: string
  /** The pid file of the etcd process that stands for the node's etcd container (a shell word). */
  pidFile: string
  /** The member's client port on 127.0.0.1 (a shell word). */
  clientPort: string
  /** The folder makeEtcdPki filled. */
  pki: string
}

/**
 * A crictl test double: the test's etcd process is "the etcd container". `ps` prints a container
 * id while it runs; `exec ID etcdctl …` runs the real /usr/bin/etcdctl with kubeadm's endpoint and
 * certificate paths mapped to the test's.
 */
export function crictlDouble(o: CrictlDoubleOptions): string {
  return `#!/bin/bash
# crictl test double: the test's etcd process is "the etcd container".
${o.prelude ?? ''}
running() { kill -0 "$(cat ${o.pidFile} 2>/dev/null)" 2>/dev/null; }
case "$1" in
  ps) running && echo 3f1e2d4c5b6a7980; exit 0 ;;
  exec)
    [ "$2" = 3f1e2d4c5b6a7980 ] && [ "$3" = etcdctl ] || { echo "crictl double: unexpected $*" >&2; exit 2; }
    running || { echo 'container is not running' >&2; exit 1; }
    shift 3
    args=()
    for a in "$@"; do
      case "$a" in
        --endpoints=https://127.0.0.1:2379) a=--endpoints=https://127.0.0.1:${o.clientPort} ;;
        --*=/etc/kubernetes/pki/etcd/*) a="\${a%%=*}=${o.pki}/\${a##*/}" ;;
      esac
      args+=("$a")
    done
    exec /usr/bin/etcdctl "\${args[@]}" ;;
  *) echo "crictl double: unexpected $*" >&2; exit 2 ;;
esac
`
}

/** SIGTERM an etcd the test started, and wait until it is gone (at once when it already is). */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/**
 * The pure parts of the lab's kubeadm: its command line (cobra's and kubeadm's wording), the
 * stub protocol, path resolution inside a VM's root, token and certificate-key fingerprints, the
 * join command kubeadm prints, and which pods install a CNI configuration. No root, no lab.
 */
import {createHmac} from 'node:crypto'
import {lstatSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {mixedWithConfig, parseDuration, parseKubeadmArgv, STACK_HINT} from '../../../src/lib/lab/kubeadm/argv.js'
import type {LabClusters} from '../../../src/lib/lab/kubeadm/clusters.js'
import {installsCni, LabKubelets, type LabVmState} from '../../../src/lib/lab/kubeadm/kubelets.js'
import {detachedJws} from '../../../src/lib/lab/kubeadm/objects.js'
import {ignoreErrors, joinCommand, oneLine, preflightReport} from '../../../src/lib/lab/kubeadm/output.js'
import {decodeWord, encodeRequest, encodeWord, parseAnswer, parseRequest, replyLine} from '../../../src/lib/lab/kubeadm/protocol.js'
import {checkCertificateKey, checkToken, type ClusterRecord, rememberCertificateKey, rememberToken} from '../../../src/lib/lab/kubeadm/state.js'
import {installedVersion} from '../../../src/lib/lab/kubeadm/vm.js'
import {readVmFile, resolveInRoot, vmReadable, writeVmFiles} from '../../../src/lib/lab/kubeadm/vm-files.js'
import type {Node, Pod} from '../../../src/lib/lab/kube/types.js'
import {startTestKube} from '../kube/helpers.js'

describe('kubeadm argv', () => {
  const ok = (argv: string[]) => {
    const call = parseKubeadmArgv(argv)
    if ('code' in call) throw new Error(call.message)
    return call
  }

  it('finds nested commands and their flags in either form', () => {
    expect(ok(['init', '--config', '/run/kp/a.yaml', '--upload-certs'])).toEqual({args: [], flags: {config: '/run/kp/a.yaml', 'upload-certs': true}, path: 'init'})
    expect(ok(['init', 'phase', 'upload-certs', '--upload-certs=true', '--v=5'])).toMatchObject({flags: {'upload-certs': true, v: 5}, path: 'init phase upload-certs'})
    expect(ok(['token', 'create', '--print-join-command', '--ttl', '30m'])).toMatchObject({flags: {'print-join-command': true, ttl: '30m'}, path: 'token create'})
    expect(ok(['reset', '-f'])).toMatchObject({flags: {force: true}, path: 'reset'})
    expect(ok(['join', '10.77.0.10:6443', '--token', 'a.b', '--discovery-token-ca-cert-hash', 'sha256:1,sha256:2'])).toMatchObject({args: ['10.77.0.10:6443'], flags: {'discovery-token-ca-cert-hash': ['sha256:1', 'sha256:2']}})
  })

  it("fails with cobra's and kubeadm's words and exit codes", () => {
    expect(parseKubeadmArgv(['init', '--bogus'])).toEqual({code: 1, message: `unknown flag: --bogus\n${STACK_HINT}\n`})
    expect(parseKubeadmArgv(['reset', '-x'])).toEqual({code: 1, message: `unknown shorthand flag: 'x' in -x\n${STACK_HINT}\n`})
    expect(parseKubeadmArgv(['init', '--config'])).toEqual({code: 1, message: `flag needs an argument: --config\n${STACK_HINT}\n`})
    expect(parseKubeadmArgv(['inti'])).toEqual({code: 1, message: `unknown command "inti" for "kubeadm"\n\nDid you mean this?\n\tinit\n\n${STACK_HINT}\n`})
    expect(parseKubeadmArgv(['token'])).toEqual({code: 1, message: `missing subcommand; "token" is not meant to be run on its own\n${STACK_HINT}\n`})
    expect(parseKubeadmArgv(['token', 'frob'])).toEqual({code: 1, message: 'invalid subcommand: "frob"\n'})
    const message = (argv: string[]) => {
      const call = parseKubeadmArgv(argv)
      return 'message' in call ? call.message : ''
    }
    expect(message(['init', '--upload-certs=maybe'])).toContain('invalid argument "maybe" for "--upload-certs" flag: strconv.ParseBool')
    expect(message(['token', 'create', '--ttl', '2days'])).toContain('time: invalid duration "2days"')
  })

  it('refuses flags mixed with --config as ValidateMixedArguments does, sorted', () => {
    expect(mixedWithConfig(ok(['init', '--config', 'a', '--token-ttl', '1h', '--pod-network-cidr', '10.0.0.0/16', '--skip-token-print', '--node-name', 'x']))).toBe("can not mix '--config' with arguments [pod-network-cidr token-ttl]")
    expect(mixedWithConfig(ok(['init', '--pod-network-cidr', '10.0.0.0/16']))).toBeUndefined()
  })

  it("parses Go durations", () => {
    expect(parseDuration('2h0m0s')).toBe(7_200_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('10')).toBeUndefined()
  })
})

describe('the stub protocol', () => {
  it('round-trips a request, with empty and binary-unsafe arguments', () => {
    const request = {args: ['init', '', 'a b\nc', 'ü'], command: 'kubeadm', cwd: '/home/debian', euid: 0, version: '1.31.8'}
    expect(parseRequest(encodeRequest(request))).toEqual(request)
    expect(() => parseRequest('HELLO kubeadm')).toThrow(/same protocol/)
  })

  it('encodes replies and parses answers', () => {
    expect(replyLine('exit', 3)).toBe('exit 3')
    expect(replyLine('run', ['systemctl', 'restart', 'kubelet'])).toBe(`run ${['systemctl', 'restart', 'kubelet'].map(encodeWord).join(' ')}`)
    expect(decodeWord(replyLine('out', 'x\n').split(' ')[1]!)).toBe('x\n')
    expect(parseAnswer(`rc 5 ${encodeWord('Failed')}`)).toEqual({code: 5, output: 'Failed'})
    expect(parseAnswer('answer -')).toEqual({answer: ''})
  })
})

describe('files in a VM root', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'kp-vm-root-'))
  mkdirSync(path.join(root, 'etc', 'kubernetes'), {recursive: true})
  mkdirSync(path.join(root, 'data'))
  symlinkSync('/data', path.join(root, 'etc', 'kubernetes', 'pki'))
  symlinkSync('/', path.join(root, 'escape'))
  symlinkSync('../../..', path.join(root, 'etc', 'up'))

  it('resolves absolute and relative links inside the root, never above it', () => {
    expect(resolveInRoot(root, '/etc/kubernetes/pki/ca.crt')).toBe(path.join(root, 'data', 'ca.crt'))
    expect(resolveInRoot(root, '/escape/etc/passwd')).toBe(path.join(root, 'etc', 'passwd'))
    expect(resolveInRoot(root, '/etc/up/etc/hostname')).toBe(path.join(root, 'etc', 'hostname'))
    expect(resolveInRoot(root, '/escape', false)).toBe(path.join(root, 'escape'))
  })

  it('writes files with their modes through links to folders, replacing a link at the file itself', () => {
    symlinkSync('/etc/hostname', path.join(root, 'data', 'sa.key'))
    writeVmFiles(root, [['/etc/kubernetes/pki/sa.key', {content: 'key\n', mode: 0o600}], ['/var/lib/kubelet/config.yaml', {content: 'a: 1\n', mode: 0o644}]])
    expect(lstatSync(path.join(root, 'data', 'sa.key')).isSymbolicLink()).toBe(false)
    expect(statSync(path.join(root, 'data', 'sa.key')).mode & 0o777).toBe(0o600)
    expect(readFileSync(path.join(root, 'var', 'lib', 'kubelet', 'config.yaml'), 'utf8')).toBe('a: 1\n')
    expect(readVmFile(root, '/etc/kubernetes/pki/sa.key')).toBe('key\n')
    expect(readVmFile(root, '/nope')).toBeUndefined()
  })

  it('reads files as their owner or others may, root anything', () => {
    mkdirSync(path.join(root, 'run'), {mode: 0o755})
    mkdirSync(path.join(root, 'run', 'kp'), {mode: 0o700})
    writeFileSync(path.join(root, 'run', 'kp', 'init.yaml'), 'x', {mode: 0o600})
    writeFileSync(path.join(root, 'run', 'open.yaml'), 'x', {mode: 0o644})
    expect(vmReadable(root, '/run/kp/init.yaml', 0)).toBe(true)
    expect(vmReadable(root, '/run/kp/init.yaml', 1000)).toBe(process.getuid?.() === 1000)
    expect(vmReadable(root, '/run/open.yaml', 12_345)).toBe(true)
  })

  it('reads the installed version of a held package from dpkg status', () => {
    writeFileSync(path.join(root, 'status'), 'Package: kubeadm\nStatus: install ok installed\nVersion: 1.31.9-1.1\n\nPackage: kubelet\nStatus: hold ok installed\nVersion: 1.31.8-1.1\n')
    mkdirSync(path.join(root, 'var', 'lib', 'dpkg'), {recursive: true})
    writeFileSync(path.join(root, 'var', 'lib', 'dpkg', 'status'), readFileSync(path.join(root, 'status')))
    expect(installedVersion(root, 'kubelet')).toBe('1.31.8')
    expect(installedVersion(root, 'kubeadm')).toBe('1.31.9')
    expect(installedVersion(root, 'kubectl')).toBeUndefined()
  })
})

describe('secrets as fingerprints', () => {
  const record = (): ClusterRecord => ({certDays: 365, clusterConfiguration: {}, endpoint: '10.77.0.10:6443', initVmid: 201, members: [], name: 'lab', spec: {clusterName: 'lab', endpoint: '10.77.0.10:6443', kubernetesVersion: '1.31.8', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'}, tokens: []})

  it('checks tokens by id, secret hash and expiry, and keeps no secret', () => {
    const r = record()
    rememberToken(r, 'abcdef.0123456789abcdef', {ttlMs: 60_000}, 1000)
    expect(JSON.stringify(r)).not.toContain('0123456789abcdef')
    expect(checkToken(r, 'abcdef.0123456789abcdef', 2000)).toBe('ok')
    expect(checkToken(r, 'abcdef.0123456789abcdeg', 2000)).toBe('bad-secret')
    expect(checkToken(r, 'zzzzzz.0123456789abcdef', 2000)).toBe('unknown')
    expect(checkToken(r, 'abcdef.0123456789abcdef', 70_000)).toBe('unknown')
  })

  it('knows only the last certificate key, for two hours', () => {
    const r = record()
    const key = 'a'.repeat(64)
    rememberCertificateKey(r, 'b'.repeat(64), 0)
    rememberCertificateKey(r, key, 1000)
    expect(JSON.stringify(r)).not.toContain(key)
    expect(checkCertificateKey(r, key.toUpperCase(), 2000)).toBe('ok')
    expect(checkCertificateKey(r, 'b'.repeat(64), 2000)).toBe('wrong')
    expect(checkCertificateKey(r, key, 1000 + 2 * 3_600_000)).toBe('expired')
  })

  it('signs cluster-info as cluster-bootstrap does (detached HS256 JWS keyed with the token)', () => {
    const jws = detachedJws('kubeconfig', 'abcdef', '0123456789abcdef')
    const [header, payload, signature] = jws.split('.')
    expect(payload).toBe('')
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({alg: 'HS256', kid: 'abcdef'})
    const expected = createHmac('sha256', 'abcdef.0123456789abcdef').update(`${header}.${Buffer.from('kubeconfig').toString('base64url')}`).digest('base64url')
    expect(signature).toBe(expected)
  })
})

describe("kubeadm's output", () => {
  const base = {caCertHash: `sha256:${'c'.repeat(64)}`, endpoint: '10.77.0.10:6443', token: 'abcdef.0123456789abcdef'}

  it('prints the join commands of joinCommandTemplate, withholding skipped secrets', () => {
    expect(joinCommand({...base, controlPlane: false})).toBe(`kubeadm join 10.77.0.10:6443 --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash ${base.caCertHash} `)
    expect(joinCommand({...base, certificateKey: 'k', controlPlane: true, skipCertificateKeyPrint: true, skipTokenPrint: true})).toBe(
      `kubeadm join 10.77.0.10:6443 --token <value withheld> \\\n\t--discovery-token-ca-cert-hash ${base.caCertHash} \\\n\t--control-plane --certificate-key <value withheld>`,
    )
    expect(oneLine(joinCommand({...base, controlPlane: false}))).toBe(`kubeadm join 10.77.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash ${base.caCertHash} `)
  })

  it('reports preflight errors and lets --ignore-preflight-errors turn them into warnings', () => {
    const result = {errors: [{check: 'Port-10250', message: 'Port 10250 is in use'}, {check: 'FileAvailable--etc-kubernetes-kubelet.conf', message: '/etc/kubernetes/kubelet.conf already exists'}], warnings: []}
    expect(preflightReport(result).error).toBe(
      'error execution phase preflight: [preflight] Some fatal errors occurred:\n\t[ERROR Port-10250]: Port 10250 is in use\n\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists\n' +
        `[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\`\n${STACK_HINT}\n`,
    )
    const relaxed = preflightReport(ignoreErrors(result, ['port-10250']))
    expect(relaxed.warnings).toBe('\t[WARNING Port-10250]: Port 10250 is in use\n')
    expect(preflightReport(ignoreErrors(result, ['all'])).error).toBeUndefined()
  })
})

describe('CNI installers', () => {
  const pod = (volumes: unknown[], owner = 'DaemonSet'): Pod => ({apiVersion: 'v1', kind: 'Pod', metadata: {name: 'p', ownerReferences: [{apiVersion: 'apps/v1', kind: owner, name: 'x', uid: 'u'}]}, spec: {containers: [], volumes} as unknown as Pod['spec']})

  it('are DaemonSet pods mounting a hostPath under /etc/cni/net.d', () => {
    expect(installsCni(pod([{hostPath: {path: '/etc/cni/net.d'}, name: 'cni'}]))).toBe(true)
    expect(installsCni(pod([{hostPath: {path: '/etc/cni/net.d/'}, name: 'cni'}]))).toBe(true)
    expect(installsCni(pod([{hostPath: {path: '/etc/cni'}, name: 'cni'}]))).toBe(false)
    expect(installsCni(pod([{hostPath: {path: '/etc/cni/net.d'}, name: 'cni'}], 'ReplicaSet'))).toBe(false)
    expect(installsCni(pod([{emptyDir: {}, name: 'x'}]))).toBe(false)
  })
})

describe('kp lab fault --kubelet-not-ready-after-reboot', () => {
  it("keeps the node of a VM whose kubelet runs NotReady while the fault holds, and Ready once it is lifted", async () => {
    const t = await startTestKube()
    try {
      t.kube.seedDemo({kubeletVersion: 'v1.31.8', nodes: ['cp1', 'w1']})
      let held = true
      const w1: LabVmState = {booted: true, ip: '10.77.0.12', name: 'w1', root: '/nonexistent', serviceActive: () => true, vmid: 202}
      const noClusters = {all: () => [], store: {names: () => []}} as unknown as LabClusters
      const kubelets = new LabKubelets({clusters: noClusters, demo: t.kube, log: () => {}, vms: () => [{...w1, kubeletNotReady: held}]})
      const ready = (name: string) => t.kube.list<Node>('nodes').find((n) => n.metadata.name === name)?.status?.conditions?.find((c) => c.type === 'Ready')?.status
      kubelets.beat()
      expect(ready('w1')).not.toBe('True')
      expect(ready('cp1')).toBe('True')
      held = false
      kubelets.beat()
      expect(ready('w1')).toBe('True')
    } finally {
      await t.kube.close()
    }
  })
})

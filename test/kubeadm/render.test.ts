import {describe, expect, it} from 'vitest'

import {
  kubeadmApiVersion,
  kubeadmInitArgv,
  kubeadmJoinArgv,
  renderInitConfig,
  renderJoinConfig,
} from '../../src/lib/kubeadm/config.js'
import {generateBootstrapToken, generateCertificateKey, PLACEHOLDER_SECRETS} from '../../src/lib/kubeadm/secrets.js'
import {validateKubeadmConfig, type KubeadmCommand} from '../../src/lib/kubeadm/validate.js'
import {clearSecretsForTests} from '../../src/lib/redact.js'
import {expectedGolden, labConfig, nodeNamed} from './helpers.js'

const P = PLACEHOLDER_SECRETS
const joinInputs = {bootstrapToken: P.bootstrapToken, caCertHashes: [P.caCertHash], certificateKey: P.certificateKey}

/** The three files kp renders for a cluster, with placeholder secrets. */
function renderAll(kubernetesVersion: string) {
  const config = labConfig(kubernetesVersion)
  return {
    init: renderInitConfig(config, nodeNamed(config, 'cp1'), P),
    joinControlPlane: renderJoinConfig(config, nodeNamed(config, 'cp2'), joinInputs),
    joinWorker: renderJoinConfig(config, nodeNamed(config, 'w1'), joinInputs),
  }
}

/** The plain data of each document in a rendered file, by kind. */
function documents(text: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(validateKubeadmConfig(text).documents.map((d) => [d.kind, d.data]))
}

describe('kubeadm configuration rendering', () => {
  it.each([
    ['1.30.8', 'v1.30'],
    ['1.31.4', 'v1.31'],
    ['1.33.1', 'v1.33'],
  ])('renders init and join files for Kubernetes %s as the golden files say', (version, tag) => {
    const files = renderAll(version)
    expect(files.init).toBe(expectedGolden(`init-${tag}.yaml`, files.init))
    expect(files.joinControlPlane).toBe(expectedGolden(`join-control-plane-${tag}.yaml`, files.joinControlPlane))
    expect(files.joinWorker).toBe(expectedGolden(`join-worker-${tag}.yaml`, files.joinWorker))
  })

  it('says in its header whether it holds the secrets or placeholders for them (the copy kp keeps in the state dir has placeholders)', () => {
    const config = labConfig('1.31.4')
    const fresh = {bootstrapToken: generateBootstrapToken(), certificateKey: generateCertificateKey()}
    const header = (text: string) => text.split('\n')[1]

    expect(header(renderInitConfig(config, nodeNamed(config, 'cp1'), P))).toBe(
      '# Placeholders stand in for the bootstrap token and the certificate key: the file kp writes on the node holds fresh ones, root only (0600), deleted after use.',
    )
    expect(header(renderInitConfig(config, nodeNamed(config, 'cp1'), fresh))).toBe('# It holds the bootstrap token and the certificate key: root only (0600), deleted after use.')
    expect(header(renderJoinConfig(config, nodeNamed(config, 'w1'), {...joinInputs, bootstrapToken: fresh.bootstrapToken}))).toBe('# It holds the bootstrap token: root only (0600), deleted after use.')
    clearSecretsForTests()
  })

  it.each(['1.24.17', '1.28.15', '1.30.8', '1.31.4', '1.32.2', '1.33.1'])('renders files kubeadm %s accepts without a single warning', (version) => {
    const files = renderAll(version)
    const checks: [string, KubeadmCommand][] = [
      [files.init, 'init'],
      [files.init, 'validate'],
      [files.joinControlPlane, 'join'],
      [files.joinControlPlane, 'validate'],
      [files.joinWorker, 'join'],
      [files.joinWorker, 'validate'],
    ]
    for (const [text, command] of checks) {
      const result = validateKubeadmConfig(text, {command, kubeadmVersion: version})
      expect({command, problems: result.problems}).toEqual({command, problems: []})
      expect(result.ok).toBe(true)
    }
  })

  it('picks v1beta4 from Kubernetes 1.31 on and v1beta3 before', () => {
    expect(kubeadmApiVersion('1.24.0')).toBe('kubeadm.k8s.io/v1beta3')
    expect(kubeadmApiVersion('1.30.14')).toBe('kubeadm.k8s.io/v1beta3')
    expect(kubeadmApiVersion('1.31.0')).toBe('kubeadm.k8s.io/v1beta4')
    expect(kubeadmApiVersion('v1.33.1')).toBe('kubeadm.k8s.io/v1beta4')
    expect(documents(renderAll('1.30.8').init).InitConfiguration).toMatchObject({apiVersion: 'kubeadm.k8s.io/v1beta3'})
    expect(documents(renderAll('1.31.0').init).ClusterConfiguration).toMatchObject({apiVersion: 'kubeadm.k8s.io/v1beta4'})
  })

  it('builds the init documents from the cluster and the node', () => {
    const {ClusterConfiguration: cluster, InitConfiguration: init, KubeletConfiguration: kubelet} = documents(renderAll('1.31.4').init)
    expect(init).toMatchObject({
      bootstrapTokens: [{groups: ['system:bootstrappers:kubeadm:default-node-token'], token: P.bootstrapToken, ttl: '2h0m0s', usages: ['signing', 'authentication']}],
      certificateKey: P.certificateKey,
      localAPIEndpoint: {advertiseAddress: '10.0.10.11', bindPort: 6443},
      nodeRegistration: {criSocket: 'unix:///var/run/containerd/containerd.sock', imagePullSerial: true, kubeletExtraArgs: [{name: 'node-ip', value: '10.0.10.11'}], name: 'cp1'},
    })
    expect(cluster).toMatchObject({
      apiServer: {certSANs: ['k8s.lab.lan', '10.0.10.11', '10.0.10.12', '10.0.10.13']},
      clusterName: 'lab',
      // kp.yaml says K8s.Lab.lan; kubeadm only takes lower-case names.
      controlPlaneEndpoint: 'k8s.lab.lan:6443',
      encryptionAlgorithm: 'RSA-2048',
      kubernetesVersion: 'v1.31.4',
      networking: {podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'},
    })
    expect(kubelet).toEqual({apiVersion: 'kubelet.config.k8s.io/v1beta1', cgroupDriver: 'systemd', kind: 'KubeletConfiguration'})
  })

  it('writes extra arguments as a map for v1beta3 and as a list for v1beta4', () => {
    expect(documents(renderAll('1.30.8').joinWorker).JoinConfiguration).toMatchObject({nodeRegistration: {kubeletExtraArgs: {'node-ip': '10.0.10.21'}}})
    expect(documents(renderAll('1.31.4').joinWorker).JoinConfiguration).toMatchObject({nodeRegistration: {kubeletExtraArgs: [{name: 'node-ip', value: '10.0.10.21'}]}})
  })

  it('gives a control plane join its certificate key and API endpoint, and a worker neither', () => {
    const cp = documents(renderAll('1.31.4').joinControlPlane).JoinConfiguration
    const worker = documents(renderAll('1.31.4').joinWorker).JoinConfiguration
    expect(cp).toMatchObject({
      controlPlane: {certificateKey: P.certificateKey, localAPIEndpoint: {advertiseAddress: '10.0.10.12', bindPort: 6443}},
      discovery: {bootstrapToken: {apiServerEndpoint: 'k8s.lab.lan:6443', caCertHashes: [P.caCertHash], token: P.bootstrapToken}},
    })
    expect(worker).not.toHaveProperty('controlPlane')
    expect(renderAll('1.31.4').joinWorker).not.toContain(P.certificateKey)
  })

  it('carries freshly generated secrets only inside the file, never on the command line', () => {
    // Given
    const config = labConfig('1.31.4')
    const secrets = {bootstrapToken: generateBootstrapToken(), certificateKey: generateCertificateKey()}
    // When
    const init = renderInitConfig(config, nodeNamed(config, 'cp1'), secrets)
    // Then
    expect(init.split(secrets.bootstrapToken)).toHaveLength(2)
    expect(init.split(secrets.certificateKey)).toHaveLength(2)
    expect(validateKubeadmConfig(init, {command: 'init'}).ok).toBe(true)
    const argv = [...kubeadmInitArgv(), ...kubeadmJoinArgv()].join(' ')
    expect(argv).toBe('kubeadm init --config /run/kp/kubeadm-init.yaml --upload-certs kubeadm join --config /run/kp/kubeadm-join.yaml')
    clearSecretsForTests()
  })

  it('refuses to render what kubeadm could not use, without echoing the secret', () => {
    const config = labConfig('1.31.4')
    const badToken = 'ABCDEF.0123456789abcdef'
    expect(() => renderInitConfig(config, nodeNamed(config, 'w1'), P)).toThrow('kubeadm init runs on a control plane, and w1 is a worker')
    expect(() => renderInitConfig(config, nodeNamed(config, 'cp1'), {...P, bootstrapToken: badToken})).toThrow(/not in kubeadm's format/)
    expect(() => renderInitConfig(config, nodeNamed(config, 'cp1'), {...P, bootstrapToken: badToken})).not.toThrow(badToken)
    expect(() => renderInitConfig(config, nodeNamed(config, 'cp1'), {...P, certificateKey: 'abc'})).toThrow('64 hex characters')
    expect(() => renderJoinConfig(config, nodeNamed(config, 'w1'), {...joinInputs, caCertHashes: []})).toThrow(/CA cert hash/)
    expect(() => renderJoinConfig(config, nodeNamed(config, 'cp2'), {...joinInputs, certificateKey: undefined})).toThrow('64 hex characters')
  })

  it('sets the bootstrap token lifetime when asked', () => {
    const config = labConfig('1.31.4')
    const init = renderInitConfig(config, nodeNamed(config, 'cp1'), P, {tokenTtl: '24h0m0s'})
    expect(documents(init).InitConfiguration).toMatchObject({bootstrapTokens: [{ttl: '24h0m0s'}]})
  })
})

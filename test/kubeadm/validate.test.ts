import {describe, expect, it} from 'vitest'

import {validateKubeadmConfig, type KubeadmValidateOptions} from '../../src/lib/kubeadm/validate.js'

const V4 = 'apiVersion: kubeadm.k8s.io/v1beta4'
const V3 = 'apiVersion: kubeadm.k8s.io/v1beta3'
const GVK = (version: string, kind: string) => `schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"${version}", Kind:"${kind}"}`
const TOKEN = 'abcdef.0123456789abcdef'
const HASH = `sha256:${'ab'.repeat(32)}`

const doc = (...lines: string[]) => `${lines.join('\n')}\n`

/** A worker's v1beta4 join file that kubeadm accepts; tests change one line of it. */
const goodJoin = (discovery = [`    token: ${TOKEN}`, '    apiServerEndpoint: k8s.lab.lan:6443', `    caCertHashes: [${HASH}]`]) =>
  doc(V4, 'kind: JoinConfiguration', 'discovery:', '  bootstrapToken:', ...discovery, 'nodeRegistration:', '  name: w1')

function check(text: string, options: KubeadmValidateOptions = {}) {
  const result = validateKubeadmConfig(text, options)
  return {...result, lines: result.problems.map((p) => `${p.severity} L${p.line ?? '-'} ${p.message}`)}
}

describe('validating kubeadm configuration the way kubeadm does', () => {
  describe('unknown fields', () => {
    const text = doc(V4, 'kind: ClusterConfiguration', 'kubernetesVersion: v1.31.4', 'foo: bar', 'networking:', '  podSubnett: 10.244.0.0/16')

    it('are errors for kubeadm config validate, listed in one strict-decoding message', () => {
      const result = check(text)
      expect(result.ok).toBe(false)
      expect(result.error).toBe(`error unmarshaling configuration ${GVK('v1beta4', 'ClusterConfiguration')}: strict decoding error: unknown field "foo", unknown field "networking.podSubnett"`)
      expect(result.problems.map((p) => [p.code, p.path, p.line])).toEqual([
        ['unknown-field', 'foo', 4],
        ['unknown-field', 'networking.podSubnett', 6],
      ])
    })

    it('are only warnings for kubeadm init, as the real one prints them and goes on', () => {
      const result = check(text, {command: 'init'})
      expect(result.ok).toBe(true)
      expect(result.lines).toEqual([
        `warning L4 error unmarshaling configuration ${GVK('v1beta4', 'ClusterConfiguration')}: strict decoding error: unknown field "foo"`,
        `warning L6 error unmarshaling configuration ${GVK('v1beta4', 'ClusterConfiguration')}: strict decoding error: unknown field "networking.podSubnett"`,
      ])
    })

    it('name list items by index, and are found in the kubelet configuration too', () => {
      const result = check(doc(V4, 'kind: InitConfiguration', 'bootstrapTokens:', `- token: ${TOKEN}`, '  tll: 2h', '---', 'apiVersion: kubelet.config.k8s.io/v1beta1', 'kind: KubeletConfiguration', 'node-ip: 10.0.0.1'))
      expect(result.error).toBe(`error unmarshaling configuration ${GVK('v1beta4', 'InitConfiguration')}: strict decoding error: unknown field "bootstrapTokens[0].tll"`)
      expect(result.lines).toContain('error L9 error unmarshaling configuration schema.GroupVersionKind{Group:"kubelet.config.k8s.io", Version:"v1beta1", Kind:"KubeletConfiguration"}: strict decoding error: unknown field "node-ip"')
    })

    it('include the fields each API version dropped or has not got yet', () => {
      const v3InV4 = check(doc(V4, 'kind: ClusterConfiguration', 'apiServer:', '  timeoutForControlPlane: 4m0s'))
      expect(v3InV4.problems.map((p) => p.path)).toEqual(['apiServer.timeoutForControlPlane'])
      const v4InV3 = check(doc(V3, 'kind: InitConfiguration', 'nodeRegistration:', '  imagePullSerial: true', 'timeouts:', '  discovery: 5m0s', '---', V3, 'kind: ClusterConfiguration', 'encryptionAlgorithm: RSA-2048'))
      expect(v4InV3.problems.map((p) => p.path)).toEqual(['encryptionAlgorithm', 'nodeRegistration.imagePullSerial', 'timeouts'])
      const joinTimeout = check(doc(V4, 'kind: JoinConfiguration', 'discovery:', '  timeout: 5m0s', `  bootstrapToken: {token: ${TOKEN}, apiServerEndpoint: "a:6443", caCertHashes: [${HASH}]}`))
      expect(joinTimeout.problems.map((p) => p.path)).toEqual(['discovery.timeout'])
    })

    it('include keys written twice, reported with their line as go-yaml does', () => {
      const result = check(doc(V4, 'kind: ClusterConfiguration', 'clusterName: a', 'clusterName: b'))
      expect(result.error).toBe(`error unmarshaling configuration ${GVK('v1beta4', 'ClusterConfiguration')}: strict decoding error: error converting YAML to JSON: yaml: unmarshal errors:\n  line 4: key "clusterName" already set in map`)
    })
  })

  describe('API versions', () => {
    it('refuses removed kubeadm API versions, naming the kubeadm that can migrate them', () => {
      expect(check(doc('apiVersion: kubeadm.k8s.io/v1beta2', 'kind: ClusterConfiguration')).error).toBe(
        `your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta2" (kind: "ClusterConfiguration"). Please use kubeadm v1.22 instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`,
      )
      expect(check(doc('apiVersion: kubeadm.k8s.io/v1beta1', 'kind: InitConfiguration'), {command: 'init'}).error).toMatch(/^your configuration file uses an old API spec: "kubeadm.k8s.io\/v1beta1" \(kind: "InitConfiguration"\)\. Please use kubeadm v1\.15 instead/)
      expect(check(goodJoin().replace(V4, 'apiVersion: kubeadm.k8s.io/v1alpha3'), {command: 'join'}).error).toMatch(/Please use kubeadm v1\.14 instead/)
    })

    it('refuses API versions kubeadm never had', () => {
      expect(check(doc('apiVersion: kubeadm.k8s.io/v1beta9', 'kind: InitConfiguration')).error).toBe(`unknown configuration APIs: []schema.GroupVersionKind{${GVK('v1beta9', 'InitConfiguration')}}`)
      expect(check(doc('apiVersion: kubeadm.k8s.io/v1beta9', 'kind: InitConfiguration'), {command: 'init'}).error).toBe(
        'no kind "InitConfiguration" is registered for version "kubeadm.k8s.io/v1beta9" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"',
      )
      expect(check(doc(V3, 'kind: ResetConfiguration')).error).toBe(`unknown configuration APIs: []schema.GroupVersionKind{${GVK('v1beta3', 'ResetConfiguration')}}`)
    })

    it('knows every pair kubeadm accepts', () => {
      const pairs = [
        [V3, 'InitConfiguration'], [V3, 'ClusterConfiguration'], [V3, 'JoinConfiguration'],
        [V4, 'InitConfiguration'], [V4, 'ClusterConfiguration'], [V4, 'JoinConfiguration'], [V4, 'ResetConfiguration'], [V4, 'UpgradeConfiguration'],
        ['apiVersion: kubelet.config.k8s.io/v1beta1', 'KubeletConfiguration'], ['apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'KubeProxyConfiguration'],
      ]
      for (const [apiVersion, kind] of pairs) {
        const result = check(doc(apiVersion!, `kind: ${kind}`))
        expect(result.problems.filter((p) => p.code === 'unknown-api')).toEqual([])
      }
    })

    it('follows the kubeadm binary: v1beta4 is experimental before 1.31, v1beta3 deprecated from 1.31', () => {
      const v4 = doc(V4, 'kind: ClusterConfiguration')
      expect(check(v4, {command: 'init', kubeadmVersion: '1.30.8'}).error).toBe(
        'experimental API spec: "kubeadm.k8s.io/v1beta4" (kind: "ClusterConfiguration") is not allowed. You can use the --allow-experimental-api flag if the command supports it.',
      )
      const v3 = check(doc(V3, 'kind: ClusterConfiguration'), {command: 'init', kubeadmVersion: 'v1.31.4'})
      expect(v3.ok).toBe(true)
      expect(v3.lines).toEqual([
        `warning L1 your configuration file uses a deprecated API spec: "kubeadm.k8s.io/v1beta3" (kind: "ClusterConfiguration"). Please use 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`,
      ])
      expect(check(doc(V3, 'kind: ClusterConfiguration'), {kubeadmVersion: '1.31.4'}).problems).toEqual([])
    })

    it('refuses a component config in a version kubeadm cannot read', () => {
      const result = check(doc(V4, 'kind: ClusterConfiguration', '---', 'apiVersion: kubelet.config.k8s.io/v1', 'kind: KubeletConfiguration'), {command: 'init'})
      expect(result.error).toBe('unexpected apiVersion "kubelet.config.k8s.io/v1", you may have to do manual conversion to "kubelet.config.k8s.io/v1beta1" and execute kubeadm again')
    })
  })

  describe('extra arguments', () => {
    it('refuses a v1beta3-style map in v1beta4, as kubeadm init does (a warning, then the fatal error)', () => {
      const result = check(doc(V4, 'kind: InitConfiguration', 'nodeRegistration:', '  kubeletExtraArgs:', '    node-ip: 10.0.10.11'), {command: 'init'})
      const bare = 'json: cannot unmarshal object into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type []v1beta4.Arg'
      expect(result.error).toBe(bare)
      expect(result.lines).toEqual([`warning L5 error unmarshaling configuration ${GVK('v1beta4', 'InitConfiguration')}: ${bare}`, `error L5 ${bare}`])
    })

    it('refuses a v1beta4-style list in v1beta3', () => {
      const result = check(doc(V3, 'kind: ClusterConfiguration', 'apiServer:', '  extraArgs:', '  - name: audit-log-maxage', '    value: "30"'))
      expect(result.error).toBe(`error unmarshaling configuration ${GVK('v1beta3', 'ClusterConfiguration')}: json: cannot unmarshal array into Go struct field APIServer.apiServer.extraArgs of type map[string]string`)
    })

    it('reports other type mismatches with the Go type and field', () => {
      expect(check(doc(V4, 'kind: InitConfiguration', 'localAPIEndpoint:', '  bindPort: "6443"'), {command: 'init'}).error).toBe(
        'json: cannot unmarshal string into Go struct field APIEndpoint.localAPIEndpoint.bindPort of type int32',
      )
      expect(check(doc(V4, 'kind: ClusterConfiguration', 'apiServer:', '  extraArgs:', '  - name: v', '    value: 5')).error).toMatch(/json: cannot unmarshal number into Go struct field Arg\.apiServer\.extraArgs\.value of type string$/)
      expect(check(doc(V4, 'kind: ClusterConfiguration', 'networking: 10.244.0.0/16')).error).toMatch(/cannot unmarshal string into Go struct field ClusterConfiguration\.networking of type v1beta4\.Networking$/)
      expect(check(doc(V4, 'kind: ClusterConfiguration', 'certificateValidityPeriod: 1y')).error).toMatch(/: time: unknown unit "y" in duration "1y"$/)
    })

    it('refuses an extra argument without a name', () => {
      expect(check(doc(V4, 'kind: ClusterConfiguration', 'apiServer:', '  extraArgs:', '  - value: x')).error).toBe('apiServer.extraArgs: Invalid value: "index 0": argument has no name')
    })
  })

  describe('documents and their type information', () => {
    it('refuses a document without kind', () => {
      const result = check(doc(V4, 'nodeRegistration:', '  name: cp1'))
      expect(result.error).toBe('invalid configuration for GroupVersionKind kubeadm.k8s.io/v1beta4, Kind=: kind and apiVersion is mandatory information that must be specified')
      expect(result.problems[0]).toMatchObject({code: 'missing-type-meta', document: 0, line: 1})
    })

    it('treats a comment block before the first --- as a document without type, as kubeadm does', () => {
      expect(check(doc('# kubeadm config', '---', V4, 'kind: ClusterConfiguration')).error).toBe(
        'invalid configuration for GroupVersionKind /, Kind=: kind and apiVersion is mandatory information that must be specified',
      )
      expect(check(doc('---', V4, 'kind: ClusterConfiguration', '--- # next', 'apiVersion: kubelet.config.k8s.io/v1beta1', 'kind: KubeletConfiguration')).ok).toBe(true)
    })

    it('refuses a kind given twice, a bad separator, YAML that does not parse, and a file that is no mapping', () => {
      expect(check(doc(V4, 'kind: InitConfiguration', '---', V3, 'kind: InitConfiguration')).error).toBe('invalid configuration: kind "InitConfiguration" is specified twice in YAML file')
      expect(check(doc(V4, 'kind: InitConfiguration', '--- foo')).error).toBe('invalid Yaml document separator: foo')
      const syntax = check(doc(V4, 'kind: ClusterConfiguration', 'networking:', '  podSubnet: [a'))
      // The detail is the yaml library's wording, not go-yaml's; the frame is kubeadm's.
      expect(syntax.error).toMatch(/^error converting YAML to JSON: yaml: line 5: /)
      expect(syntax.problems[0]).toMatchObject({code: 'yaml-syntax', line: 5})
      expect(check('- a\n- b\n').error).toMatch(/^couldn't get version\/kind; json parse error: json: cannot unmarshal array into Go value of type struct/)
    })

    it('needs the document the command reads', () => {
      expect(check(doc('apiVersion: kubelet.config.k8s.io/v1beta1', 'kind: KubeletConfiguration'), {command: 'init'}).error).toBe('no InitConfiguration or ClusterConfiguration kind was found in the configuration file')
      expect(check(doc(V4, 'kind: ClusterConfiguration'), {command: 'join'}).error).toBe('no JoinConfiguration found in the supplied config')
      expect(check('', {command: 'init'}).error).toBe('no InitConfiguration or ClusterConfiguration kind was found in the configuration file')
    })

    it('lets kubeadm join ignore every document but the JoinConfiguration', () => {
      const result = check(`${goodJoin()}---\n${doc(V4, 'kind: ClusterConfiguration', 'foo: bar')}`, {command: 'join'})
      expect(result.problems).toEqual([])
    })

    it('warns that kubeadm init ignores documents it has no use for', () => {
      const result = check(doc(V4, 'kind: ClusterConfiguration', '---', 'apiVersion: example.com/v1', 'kind: Thing'), {command: 'init'})
      expect(result.ok).toBe(true)
      expect(result.lines).toContain('warning L4 [config] WARNING: Ignored configuration document with GroupVersionKind example.com/v1, Kind=Thing')
    })

    it('reads YAML as go-yaml v2 does: yes is a boolean', () => {
      const result = check(doc(V4, 'kind: InitConfiguration', 'nodeRegistration:', '  name: yes'), {command: 'init'})
      expect(result.error).toBe('json: cannot unmarshal bool into Go struct field NodeRegistrationOptions.nodeRegistration.name of type string')
    })

    it('returns the parsed documents with their data', () => {
      const result = check(goodJoin(), {command: 'join'})
      expect(result.documents).toEqual([expect.objectContaining({apiVersion: 'kubeadm.k8s.io/v1beta4', index: 0, kind: 'JoinConfiguration', line: 1})])
      expect(result.documents[0]!.data).toMatchObject({discovery: {bootstrapToken: {caCertHashes: [HASH], token: TOKEN}}})
    })
  })

  describe('values', () => {
    it('refuses a bootstrap token that is not [a-z0-9]{6}.[a-z0-9]{16}', () => {
      const init = check(doc(V4, 'kind: InitConfiguration', 'bootstrapTokens:', '- token: abcdef.0123456789ABCDEF'), {command: 'init'})
      expect(init.error).toBe('the bootstrap token "abcdef.0123456789ABCDEF" was not of the form "\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z"')
      const join = check(goodJoin([`    token: abcdef`, '    apiServerEndpoint: k8s.lab.lan:6443', `    caCertHashes: [${HASH}]`]), {command: 'join'})
      expect(join.error).toBe(
        '[discovery.bootstrapToken.token: Invalid value: "abcdef": the bootstrap token is invalid, discovery.tlsBootstrapToken: Invalid value: "abcdef": the bootstrap token is invalid]',
      )
      expect(join.problems[0]).toMatchObject({line: 5, path: 'discovery.bootstrapToken.token'})
    })

    it('refuses a certificate key that is not 32 bytes of hex', () => {
      expect(check(doc(V4, 'kind: InitConfiguration', `certificateKey: "${'a'.repeat(62)}"`)).error).toBe(`certificateKey: Invalid value: "${'a'.repeat(62)}": invalid certificate key size 31, the key must be an AES key of size 32`)
      expect(check(doc(V4, 'kind: InitConfiguration', `certificateKey: "${'g'.repeat(64)}"`)).error).toMatch(/certificate key decoding error: encoding\/hex: invalid byte: U\+0067 'g'$/)
      const cp = goodJoin().replace('nodeRegistration:', `controlPlane:\n  certificateKey: "abc"\nnodeRegistration:`)
      expect(check(cp, {command: 'join'}).error).toBe('controlPlane.certificateKey: Invalid value: "abc": certificate key decoding error: encoding/hex: odd length hex string')
    })

    it('checks the CA pins the way join discovery does', () => {
      const pins = (hash: string) => check(goodJoin([`    token: ${TOKEN}`, '    apiServerEndpoint: k8s.lab.lan:6443', `    caCertHashes: ["${hash}"]`]), {command: 'join'}).error
      expect(pins('sha256:abcd')).toBe('invalid discovery token CA certificate hash: expected a 32 byte SHA-256 hash, found 2 bytes')
      expect(pins(`md5:${'ab'.repeat(16)}`)).toBe('invalid discovery token CA certificate hash: unknown hash format "md5"')
      expect(pins('ab'.repeat(32))).toBe('invalid discovery token CA certificate hash: invalid public key hash, expected "format:value"')
      expect(pins(`sha256:${'zz'.repeat(32)}`)).toBe("invalid discovery token CA certificate hash: encoding/hex: invalid byte: U+007A 'z'")
    })

    it('needs a join to say how to find and trust the cluster', () => {
      expect(check(doc(V4, 'kind: JoinConfiguration'), {command: 'join'}).error).toBe('discovery: Invalid value: "": bootstrapToken or file must be set')
      expect(check(goodJoin([`    token: ${TOKEN}`]), {command: 'join'}).error).toBe(
        '[discovery.bootstrapToken: Required value: APIServerEndpoint is not set, discovery.bootstrapToken.caCertHashes: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue, discovery.bootstrapToken.apiServerEndpoint: Invalid value: "": address : missing port in address]',
      )
      expect(check(goodJoin([`    token: ${TOKEN}`, '    apiServerEndpoint: k8s.lab.lan:6443', '    unsafeSkipCAVerification: true']), {command: 'join'}).ok).toBe(true)
    })

    it('checks kubernetesVersion, and its skew to kubeadm when the kubeadm version is known', () => {
      const cluster = (version: string) => doc(V4, 'kind: ClusterConfiguration', `kubernetesVersion: ${version}`)
      expect(check(cluster('v1.31')).error).toBe('version "v1.31" doesn\'t match patterns for neither semantic version nor labels (stable, latest, ...)')
      expect(check(cluster('1.31.4')).ok).toBe(true)
      expect(check(cluster('stable-1.31')).ok).toBe(true)
      expect(check(cluster('v1.29.5'), {kubeadmVersion: '1.31.0'}).error).toBe('this version of kubeadm only supports deploying clusters with the control plane version >= 1.30.0. Current version: v1.29.5')
    })

    it('checks the networks as kubeadm does', () => {
      const net = (...lines: string[]) => check(doc(V4, 'kind: ClusterConfiguration', 'networking:', ...lines)).error
      expect(net('  podSubnet: 10.244.0.0/33')).toBe('networking.podSubnet: Invalid value: "10.244.0.0/33": couldn\'t parse subnet')
      expect(net('  serviceSubnet: 10.96.0.0/29')).toBe('networking.serviceSubnet: Invalid value: "10.96.0.0/29": subnet with 8 address(es) is too small, the minimum is 10')
      expect(net('  serviceSubnet: 10.0.0.0/8')).toBe('networking.serviceSubnet: Invalid value: "10.0.0.0/8": specified service subnet is too large; for 32-bit addresses, the mask must be >= 12')
      expect(net('  podSubnet: 10.244.0.0/25')).toBe('networking.podSubnet: Invalid value: "10.244.0.0/25": the size of pod subnet with mask 25 is smaller than the size of node subnet with mask 24')
      expect(net('  podSubnet: 10.0.0.0/7')).toBe('networking.podSubnet: Invalid value: "10.0.0.0/7": pod subnet mask (7) and node-mask (24) difference is greater than 16')
      expect(net('  podSubnet: 10.244.0.0/16,fd00:10:244::/56')).toBeUndefined()
      expect(net('  podSubnet: 10.244.0.0/16,10.245.0.0/16')).toBe('networking.podSubnet: Invalid value: "10.244.0.0/16,10.245.0.0/16": expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking')
    })

    it('checks names, endpoints, SANs and paths', () => {
      const result = check(doc(
        V4, 'kind: ClusterConfiguration', 'controlPlaneEndpoint: "k8s_lab:6443"', 'certificatesDir: pki', 'encryptionAlgorithm: RSA',
        'apiServer:', '  certSANs: [K8S.lab.lan, "10.0.10.11", "*.lab.lan", bad_name]',
        '---', V4, 'kind: InitConfiguration', 'nodeRegistration:', '  name: CP1', '  criSocket: tcp://localhost:2375', '  imagePullPolicy: Sometimes', 'localAPIEndpoint:', '  bindPort: 70000',
      ), {command: 'init'})
      expect(result.problems.map((p) => `${p.path} L${p.line}`)).toEqual([
        'nodeRegistration.name L12', 'nodeRegistration.criSocket L13', 'nodeRegistration.imagePullPolicy L14',
        'apiServer.certSANs L7', 'certificatesDir L4', 'controlPlaneEndpoint L3', 'encryptionAlgorithm L5', 'localAPIEndpoint.bindPort L16',
      ])
      expect(result.lines).toContain('error L14 nodeRegistration.imagePullPolicy: Invalid value: "Sometimes": invalid pull policy')
      expect(result.lines).toContain('error L13 nodeRegistration.criSocket: Invalid value: "tcp://localhost:2375": only URL scheme "unix" is supported, got "tcp"')
      expect(result.lines).toContain('error L16 localAPIEndpoint.bindPort: Invalid value: 70000: port number is not valid')
      expect(result.lines).toContain('error L5 encryptionAlgorithm: Invalid value: "RSA": Invalid encryption algorithm "RSA". Must be one of [ECDSA-P256 ECDSA-P384 RSA-2048 RSA-3072 RSA-4096]')
      expect(result.error).toMatch(/^\[nodeRegistration\.name: Invalid value: "CP1": a lowercase RFC 1123 subdomain must consist of/)
    })

    it('stops at an advertise address that is no IP, before validating anything else', () => {
      const result = check(doc(V4, 'kind: InitConfiguration', 'localAPIEndpoint:', '  advertiseAddress: cp1.lab.lan', 'nodeRegistration:', '  name: CP1'), {command: 'init'})
      expect(result.error).toBe('couldn\'t use "cp1.lab.lan" as "apiserver-advertise-address", must be ipv4 or ipv6 address')
      expect(result.problems).toHaveLength(1)
    })
  })

  it('never throws, whatever it is given', () => {
    for (const text of ['[', ':\n:', '\u0000\u0001', 'apiVersion: [1]\nkind: x\n', `${V4}\nkind: {a: 1}\n`, '---\n---\n', `${V4}\nkind: InitConfiguration\nbootstrapTokens: [{token: 5}]\n`]) {
      const result = validateKubeadmConfig(text, {command: 'init'})
      expect(result.ok, text).toBe(false)
      expect(result.error, text).toEqual(expect.any(String))
    }
  })
})

import {describe, expect, it} from 'vitest'

import {durationMs, formatDuration, parseDuration} from '../../src/lib/config/duration.js'
import {formatPath, suggest} from '../../src/lib/config/problems.js'
import {parseConfig} from '../../src/lib/config/validate.js'

type Section = Record<string, unknown>

/** Parsed YAML, loosely typed so tests can write wrong values into it. */
interface Raw {
  [section: string]: unknown
  cluster: Section & {cni: Section}
  network: Section
  nodes: Section[]
  ssh: Section
}

/** A small valid kp.yaml as parsed YAML data; each test breaks one thing. */
function base(): Raw {
  return {
    cluster: {cni: {manifest: 'https://example.com/cni.yaml'}, controlPlaneEndpoint: '10.0.10.11', kubernetesVersion: '1.31.4', name: 'lab'},
    network: {dns: ['10.0.10.1'], gateway: '10.0.10.1', prefix: 24},
    nodes: [
      {ip: '10.0.10.11', name: 'cp1', role: 'control-plane', vmid: 201},
      {ip: '10.0.10.21', name: 'w1', role: 'worker', vmid: 211},
      {ip: '10.0.10.22', name: 'w2', role: 'worker', vmid: 212},
    ],
    ssh: {user: 'debian'},
  }
}

function proxmox(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {endpoint: 'https://pve.lan:8006', node: 'pve', templateVmid: 9000, tokenId: 'kp@pve!kp', tokenSecret: {env: 'PVE_TOKEN_SECRET'}, ...extra}
}

/** `path: message` lines, the way the CLI prints them. */
function problems(data: unknown): string[] {
  const result = parseConfig(data)
  return result.ok ? [] : result.problems.map((p) => `${formatPath(p.path)}: ${p.message}`)
}

describe('the kp.yaml schema', () => {
  it('accepts a minimal file and fills in the defaults', () => {
    const result = parseConfig(base())
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const {config} = result
    expect(config.cluster.controlPlaneEndpoint).toBe('10.0.10.11:6443')
    expect(config.cluster.podSubnet).toBe('10.244.0.0/16')
    expect(config.cluster.serviceSubnet).toBe('10.96.0.0/12')
    expect(config.network.bridge).toBe('vmbr0')
    expect(config.ssh).toEqual({agent: true, port: 22, user: 'debian'})
    expect(config.packages.kubernetesRepoBase).toBe('https://pkgs.k8s.io/core:/stable:')
    expect(config.nodes[0]).toMatchObject({cores: 2, diskGiB: 32, memoryMiB: 4096})
    expect(config.maintenance).toEqual({drainTimeout: '10m', rebootPolicy: 'if-required', snapshotBeforeMaintenance: true, snapshotKeep: 3})
    expect(config.health).toMatchObject({certificateCriticalDays: 7, certificateWarnDays: 30, podRestartWarn: 5})
    expect(config.proxmox).toBeUndefined()
  })

  it('keeps an explicit API port and fills in proxmox defaults', () => {
    const data = {...base(), proxmox: proxmox({fingerprint: 'ab:'.repeat(31) + 'cd'})}
    data.cluster.controlPlaneEndpoint = 'k8s.lan:8443'
    const result = parseConfig(data)
    expect(result.ok && result.config.cluster.controlPlaneEndpoint).toBe('k8s.lan:8443')
    expect(result.ok && result.config.proxmox).toMatchObject({fingerprint: 'AB:'.repeat(31) + 'CD', fullClone: true, insecureSkipTlsVerify: false, storage: 'local-lvm'})
  })

  it('refuses unknown keys, suggesting the key that was meant', () => {
    const data = base()
    data.nodes[1]!.memory = 8192
    data.network.vlna = 3
    data.extra = true
    expect(problems(data).sort()).toEqual([
      'extra: unknown key',
      'network.vlna: unknown key (did you mean "vlan"?)',
      'nodes[1].memory: unknown key (did you mean "memoryMiB"?)',
    ])
  })

  it('says what type a key needs without echoing the value', () => {
    const data = base()
    data.nodes[0]!.vmid = 'two-oh-one'
    data.network.prefix = [24]
    data.ssh.agent = 'yes'
    const lines = problems(data)
    expect(lines).toContain('nodes[0].vmid: must be a whole number, not a string')
    expect(lines).toContain('network.prefix: must be a whole number, not a list')
    expect(lines).toContain('ssh.agent: must be true or false, not a string')
    expect(lines.join('\n')).not.toContain('two-oh-one')
  })

  it('names missing sections and keys', () => {
    const data = base()
    delete (data as Section).network
    delete data.cluster.kubernetesVersion
    expect(problems(data)).toEqual(['cluster.kubernetesVersion: required key is missing', 'network: required section is missing'])
  })

  it('checks formats: version, endpoint, CIDR, token id, fingerprint, URLs', () => {
    const data = {...base(), proxmox: proxmox({endpoint: 'https://pve.lan:8006/api2/json', fingerprint: 'AB:CD', tokenId: 'kp@pve'})}
    data.cluster.kubernetesVersion = 'v1.31.4'
    data.cluster.controlPlaneEndpoint = 'k8s.lan:99999'
    data.cluster.podSubnet = '10.244.1.0/16'
    data.cluster.cni.manifest = 'http://example.com/cni.yaml'
    const lines = problems(data)
    expect(lines).toContain('cluster.kubernetesVersion: must be a Kubernetes version X.Y.Z like 1.31.4 (no leading "v")')
    expect(lines).toContain('cluster.controlPlaneEndpoint: the port must be between 1 and 65535')
    expect(lines).toContain('cluster.podSubnet: has host bits set: did you mean 10.244.0.0/16?')
    expect(lines).toContain('cluster.cni.manifest: must be an https:// URL or a local file: it is applied with cluster-admin rights')
    expect(lines).toContain('proxmox.endpoint: must be just scheme, host and port (like https://pve.lan:8006); kp adds /api2/json itself')
    expect(lines.some((l) => l.startsWith('proxmox.fingerprint: must be a SHA-256 fingerprint'))).toBe(true)
    expect(lines.some((l) => l.startsWith('proxmox.tokenId: must be an API token id USER@REALM!TOKENID'))).toBe(true)
  })

  it('refuses Kubernetes versions older than the package repositories', () => {
    const data = base()
    data.cluster.kubernetesVersion = '1.23.17'
    expect(problems(data)).toEqual(['cluster.kubernetesVersion: must be 1.24.0 or newer: the Kubernetes package repositories (pkgs.k8s.io) start at 1.24'])
  })

  it('checks durations', () => {
    const data = base()
    data.maintenance = {drainTimeout: '10 minutes', gracePeriod: '0s'}
    expect(problems(data)).toEqual(['maintenance.drainTimeout: must be a duration like 90s, 10m or 1h30m'])
    data.maintenance = {drainTimeout: '0s'}
    expect(problems(data)).toEqual(['maintenance.drainTimeout: must be longer than 0s'])
  })

  it('checks bounds with plain messages', () => {
    const data = base()
    data.nodes[0]!.vmid = 99
    data.network.vlan = 4095
    data.nodes[1]!.memoryMiB = 512
    data.network.dns = []
    expect(problems(data)).toEqual(
      expect.arrayContaining([
        'nodes[0].vmid: Proxmox VMIDs start at 100',
        'network.vlan: must be at most 4094',
        'nodes[1].memoryMiB: must be at least 1024',
        'network.dns: needs at least one DNS server',
      ]),
    )
  })
})

describe('secret sources in the schema', () => {
  it('requires tokenSecret when the proxmox section is there', () => {
    const p = proxmox()
    delete p.tokenSecret
    expect(problems({...base(), proxmox: p})).toEqual([
      'proxmox.tokenSecret: required: where kp reads the secret, one of {env: VAR}, {file: path} or {command: "pass show pve/kp"}',
    ])
  })

  it('refuses a secret written into the file, without echoing it', () => {
    const lines = problems({...base(), proxmox: proxmox({tokenSecret: 'hunter2-plaintext'})})
    expect(lines).toEqual(['proxmox.tokenSecret: must be exactly one of {env: VAR}, {file: path} or {command: "pass show pve/kp"}; secrets never live in kp.yaml itself'])
    expect(lines.join('\n')).not.toContain('hunter2')
  })

  it('refuses two sources at once', () => {
    expect(problems({...base(), proxmox: proxmox({tokenSecret: {env: 'A', file: './x'}})})[0]).toMatch(/^proxmox\.tokenSecret: must be exactly one of/)
  })

  it("reports the chosen source's own problem", () => {
    expect(problems({...base(), proxmox: proxmox({tokenSecret: {env: 'not a name'}})})).toEqual(['proxmox.tokenSecret.env: must be an environment variable name like PVE_TOKEN_SECRET'])
    expect(problems({...base(), proxmox: proxmox({tokenSecret: {command: 'pass show pve/kp | head -1'}})})[0]).toMatch(/^proxmox\.tokenSecret\.command: "\|" would be interpreted by a shell/)
  })

  it('accepts each kind of source', () => {
    for (const tokenSecret of [{env: 'PVE_TOKEN_SECRET'}, {file: './pve-token'}, {command: 'pass show pve/kp'}]) {
      expect(problems({...base(), proxmox: proxmox({tokenSecret})})).toEqual([])
    }
  })
})

describe('rules across keys', () => {
  it('refuses duplicate node names, VMIDs and IPs, naming the first one', () => {
    const data = base()
    data.nodes[2] = {...data.nodes[1]!}
    expect(problems(data)).toEqual([
      'nodes[2].name: duplicate node name w1 (also nodes[1].name)',
      'nodes[2].vmid: duplicate VMID 211 (also nodes[1].vmid)',
      'nodes[2].ip: duplicate IP address 10.0.10.21 (also nodes[1].ip)',
    ])
  })

  it('refuses node IPs outside the node network, on the gateway, or on its network and broadcast addresses', () => {
    const data = base()
    data.nodes[0]!.ip = '10.0.11.11'
    data.nodes[1]!.ip = '10.0.10.1'
    data.nodes[2]!.ip = '10.0.10.255'
    data.cluster.controlPlaneEndpoint = 'k8s.lan'
    expect(problems(data)).toEqual([
      'nodes[0].ip: 10.0.11.11 is outside the node network 10.0.10.0/24 (network.gateway/network.prefix)',
      'nodes[1].ip: 10.0.10.1 is network.gateway',
      'nodes[2].ip: is the broadcast address of 10.0.10.0/24',
    ])
  })

  it('refuses a gateway on the network address', () => {
    const data = base()
    data.network.gateway = '10.0.10.0'
    expect(problems(data)).toEqual(['network.gateway: is the network address of 10.0.10.0/24'])
  })

  it('needs a control plane', () => {
    const data = base()
    data.nodes[0]!.role = 'worker'
    expect(problems(data)).toEqual(['nodes: needs at least one node with role: control-plane'])
  })

  it.each([2, 4])('refuses %i control planes (etcd quorum)', (count) => {
    const data = base()
    data.nodes = Array.from({length: count}, (_, i) => ({ip: `10.0.10.${11 + i}`, name: `cp${i + 1}`, role: 'control-plane', vmid: 201 + i}))
    const lines = problems(data)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^nodes: ${count} control-plane nodes: .*use 1, 3 or 5$`))
  })

  it('accepts 1, 3 and 5 control planes', () => {
    for (const count of [1, 3, 5]) {
      const data = base()
      data.nodes = Array.from({length: count}, (_, i) => ({ip: `10.0.10.${11 + i}`, name: `cp${i + 1}`, role: 'control-plane', vmid: 201 + i}))
      expect(problems(data)).toEqual([])
    }
  })

  it("applies kubeadm's preflight minimums to control planes only", () => {
    const data = base()
    data.nodes[0]!.cores = 1
    data.nodes[0]!.memoryMiB = 1024
    data.nodes[1]!.cores = 1
    expect(problems(data)).toEqual([
      "nodes[0].cores: a control plane needs at least 2 cores (kubeadm's preflight check)",
      "nodes[0].memoryMiB: a control plane needs at least 1700 MiB (kubeadm's preflight check)",
    ])
  })

  it('refuses a node with the template VMID', () => {
    const data = {...base(), proxmox: proxmox({templateVmid: 211})}
    expect(problems(data)).toEqual(['nodes[1].vmid: 211 is proxmox.templateVmid, the template the nodes are cloned from'])
  })

  it('refuses overlapping pod and service networks', () => {
    const data = base()
    data.cluster.podSubnet = '10.100.0.0/16'
    expect(problems(data)).toEqual(['cluster.podSubnet: overlaps cluster.serviceSubnet 10.96.0.0/12'])
  })

  it('refuses pod or service networks that overlap the node network', () => {
    const data = base()
    data.cluster.podSubnet = '10.0.0.0/16'
    data.cluster.serviceSubnet = '10.0.10.0/28'
    const shadow = "overlaps the node network 10.0.10.0/24: pods and services would shadow the nodes' own addresses"
    expect(problems(data)).toEqual([`cluster.podSubnet: overlaps cluster.serviceSubnet 10.0.10.0/28`, `cluster.podSubnet: ${shadow}`, `cluster.serviceSubnet: ${shadow}`])
  })

  it('needs certificateCriticalDays below certificateWarnDays', () => {
    const data = base()
    data.health = {certificateCriticalDays: 30}
    expect(problems(data)).toEqual(['health.certificateCriticalDays: must be smaller than certificateWarnDays (30)'])
  })

  it('needs a way to log in over SSH', () => {
    const data = base()
    data.ssh.agent = false
    expect(problems(data)).toEqual(['ssh.identityFile: no way to log in: set identityFile, or agent: true'])
  })

  describe('the Kubernetes apt repository (its URLs reach an apt sources line and curl on every node)', () => {
    const FPR = '3F01 618A 5150 1E0B 3B1A  5AC5 40C8 7B3B 7E38 9B2D'
    const withPackages = (packages: Record<string, unknown>) => ({...base(), packages})

    it('refuses a signing key over plain http unless its fingerprint is pinned', () => {
      expect(problems(withPackages({kubernetesRepoBase: 'http://mirror.lan/k8s'}))).toEqual([
        'packages.kubernetesRepoBase: the repository\'s signing key would come over plain http (<kubernetesRepoBase>/v<minor>/deb/Release.key) and be trusted as root on every node: use https, or pin the key with packages.kubernetesKeyFingerprint (gpg --show-keys KEYFILE prints it)',
      ])
      expect(problems(withPackages({kubernetesKeyUrl: 'http://mirror.lan/key.asc', kubernetesRepoBase: 'https://mirror.lan/k8s'}))[0]).toMatch(/^packages\.kubernetesKeyUrl: the repository's signing key would come over plain http and/)
      // An http repository is fine with an https key: apt checks the repository's signatures.
      expect(problems(withPackages({kubernetesKeyUrl: 'https://mirror.lan/key.asc', kubernetesRepoBase: 'http://mirror.lan/k8s'}))).toEqual([])
      const pinned = parseConfig(withPackages({kubernetesKeyFingerprint: FPR.toLowerCase(), kubernetesRepoBase: 'http://mirror.lan/k8s'}))
      expect(pinned.ok && pinned.config.packages.kubernetesKeyFingerprint).toBe('3F01618A51501E0B3B1A5AC540C87B3B7E389B2D')
    })

    it.each(['3F01618A', 'AB:CD', '3F01618A51501E0B3B1A5AC540C87B3B7E389B2DXX', 'G'.repeat(40)])('refuses the fingerprint %j', (fpr) => {
      expect(problems(withPackages({kubernetesKeyFingerprint: fpr}))).toEqual([
        'packages.kubernetesKeyFingerprint: must be the OpenPGP fingerprint of the key: 40 hex digits, as gpg --show-keys prints it',
      ])
    })

    it.each([
      ['a space', 'https://mirror.lan/k8s stable'],
      ['a quote', 'https://mirror.lan/k8s"'],
      ["a single quote", "https://mirror.lan/k8s'"],
      ['apt options', 'https://mirror.lan/[trusted=yes]'],
      ['a command substitution', 'https://mirror.lan/$(id)'],
      ['backticks', 'https://mirror.lan/`id`'],
      ['a newline', 'https://mirror.lan/k8s\ndeb [trusted=yes] http://evil/ /'],
      ['a query', 'https://mirror.lan/k8s?x=1'],
      ['a semicolon', 'https://mirror.lan/k8s;reboot'],
    ])('refuses a repository base with %s', (_, url) => {
      expect(problems(withPackages({kubernetesRepoBase: url}))).toEqual([
        'packages.kubernetesRepoBase: must be a plain http(s) URL: host, port and a path of letters, digits and . _ ~ % : + - / (no spaces, quotes, brackets, $, ?, # or newlines): it becomes a line of apt sources on every node',
      ])
      expect(problems(withPackages({kubernetesKeyUrl: url}))[0]).toMatch(/^packages\.kubernetesKeyUrl: must be a plain http\(s\) URL/)
    })

    it('refuses credentials in the URLs, without printing them', () => {
      const lines = problems(withPackages({kubernetesKeyUrl: 'https://bob:hunter2@mirror.lan/key', kubernetesRepoBase: 'https://bob:hunter2@mirror.lan/k8s'}))
      expect(lines).toEqual([
        'packages.kubernetesKeyUrl: must not hold a user name or password (user:password@): kp would print it and write it to every node; use /etc/apt/auth.conf.d on the nodes',
        'packages.kubernetesRepoBase: must not hold a user name or password (user:password@): kp would print it and write it to every node; use /etc/apt/auth.conf.d on the nodes',
      ])
    })

    it.each(['https://pkgs.k8s.io/core:/stable:', 'http://10.77.0.1:8080/core:/stable:/', 'https://[fd00::1]:8443/k8s/', 'https://mirror.lan/k%2Bs/+x~y_z'])('accepts %s', (url) => {
      expect(problems(withPackages({kubernetesKeyFingerprint: FPR, kubernetesRepoBase: url}))).toEqual([])
    })
  })

  it.each(['k8s;$(id)', 'k8s pool', 'k8s\n', ''])('refuses the Proxmox pool %j', (pool) => {
    expect(problems({...base(), proxmox: proxmox({pool})})).toEqual(['proxmox.pool: must be a Proxmox pool id: letters, digits, ".", "_" and "-" (as pveum pool add accepts)'])
  })

  it('refuses credentials in the Proxmox endpoint and the CNI manifest URL, without printing them', () => {
    const data = {...base(), proxmox: proxmox({endpoint: 'https://root:hunter2@pve.lan:8006'})}
    data.cluster.cni.manifest = 'https://bob:hunter2@example.com/cni.yaml'
    const lines = problems(data)
    expect(lines).toEqual([
      'cluster.cni.manifest: must not hold a user name or password (user:password@): kp prints the URL in plans and logs',
      'proxmox.endpoint: must not hold a user name or password (user:password@): kp signs in with tokenId and tokenSecret',
    ])
    expect(lines.join('\n')).not.toContain('hunter2')
  })

  it.each(['http://pve.lan:8006', 'pve.lan:8006', 'https://pve lan:8006', 'https://pve.lan:8006/api2/json'])('refuses the Proxmox endpoint %j', (endpoint) => {
    expect(problems({...base(), proxmox: proxmox({endpoint})})[0]).toMatch(/^proxmox\.endpoint: must be (an https:\/\/ URL like https:\/\/pve\.example\.lan:8006|just scheme, host and port)/)
  })

  it('refuses a pinned fingerprint together with insecureSkipTlsVerify', () => {
    const data = {...base(), proxmox: proxmox({fingerprint: 'AB:'.repeat(31) + 'CD', insecureSkipTlsVerify: true})}
    expect(problems(data)[0]).toMatch(/^proxmox\.insecureSkipTlsVerify: choose one/)
  })

  it('reports cross-key problems together with unrelated schema problems', () => {
    const data = base()
    data.nodes[2]!.name = 'w1'
    data.nodes[0]!.extra = 1
    data.network.vlna = 3
    data.cluster.name = 'Not_A_Label'
    const lines = problems(data)
    expect(lines).toContain('nodes[2].name: duplicate node name w1 (also nodes[1].name)')
    expect(lines).toContain('nodes[0].extra: unknown key')
    expect(lines.some((l) => l.startsWith('cluster.name: must be a DNS label'))).toBe(true)
    expect(lines).toHaveLength(4)
  })

  it('refuses a file that is not a mapping', () => {
    expect(problems(['cluster'])).toEqual([': must be a mapping of sections (cluster, network, ssh, nodes, …), but the file is a list'])
    expect(problems(null)[0]).toMatch(/the file is empty$/)
  })
})

describe('helpers', () => {
  it('parses durations the kubectl way', () => {
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('10m')).toBe(600_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('250ms')).toBe(250)
    for (const bad of ['', '10', '10 m', 'm', '1m1h', '-5s']) expect(parseDuration(bad)).toBeUndefined()
    expect(() => durationMs('soon')).toThrow()
    expect(formatDuration(5_400_000)).toBe('1h30m')
  })

  it('formats key paths', () => {
    expect(formatPath(['nodes', 2, 'ip'])).toBe('nodes[2].ip')
    expect(formatPath(['a b'])).toBe('["a b"]')
  })

  it('suggests only close keys', () => {
    expect(suggest('memroyMiB', ['memoryMiB', 'cores'])).toBe('memoryMiB')
    expect(suggest('colour', ['memoryMiB', 'cores'])).toBeUndefined()
  })
})

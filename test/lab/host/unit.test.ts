/** The lab host's pure parts, and its shell assets: no root, no VM. */
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/lib/errors.js'
import {seedEnv, toGuestInterfaces, validateCloudInit, vmMac} from '../../../src/lib/lab/host/guest.js'
import {aptProxyConf, hashTree} from '../../../src/lib/lab/host/image.js'
import {assetsDir, inSubnet, parseHostCidr, resolveOptions, vmNames} from '../../../src/lib/lab/host/options.js'
import {controlText, flatReleaseText, LAB_RELEASES, minorPackages, packagesStanza, releaseText, repoPath} from '../../../src/lib/lab/host/packages.js'
import {installLine, preflight, type PreflightProbe} from '../../../src/lib/lab/host/preflight.js'
import {resolveInRoot, resolveRequest} from '../../../src/lib/lab/host/repo-server.js'
import {
  debFileName,
  installedPackages,
  nextLabVersion,
  parseStanzas,
  UPDATES_URL_PATH,
  updatesSourceLine,
  withRebootRequired,
  withVersion,
} from '../../../src/lib/lab/host/updates.js'

const ci = {hostname: 'cp1', nameservers: ['10.77.0.1'], sshAuthorizedKeys: ['ssh-ed25519 AAAA test'], user: 'kp'}

describe('lab options', () => {
  it('derives the subnet from the host address', () => {
    expect(parseHostCidr('10.77.0.1/24', 'kplab0')).toEqual({bridge: 'kplab0', cidr: '10.77.0.1/24', hostIp: '10.77.0.1', prefix: 24, subnet: '10.77.0.0/24'})
    expect(inSubnet('10.77.0.11', '10.77.0.0/24')).toBe(true)
    expect(inSubnet('10.77.1.11', '10.77.0.0/24')).toBe(false)
  })

  it('refuses what overlayfs or the kernel cannot take', () => {
    expect(() => resolveOptions({stateDir: '/tmp/a:b'})).toThrow(UsageError)
    expect(() => resolveOptions({bridge: 'br0', stateDir: '/tmp/lab'})).toThrow(/must start with kplab/)
    expect(() => resolveOptions({hostCidr: '10.77.0.1', stateDir: '/tmp/lab'})).toThrow(/prefix/)
  })

  it('names a VM namespace and veth with the kplab prefix, within the 15 characters Linux allows', () => {
    expect(vmNames(123456789)).toEqual({netns: 'kplab-123456789', veth: 'kplabv123456789'})
    expect(vmNames(123456789).veth.length).toBeLessThanOrEqual(15)
  })

  it('sends apt through the proxy but reaches the lab host directly', () => {
    const conf = aptProxyConf(resolveOptions({stateDir: '/tmp/lab'}))
    expect(conf).toContain('Acquire::http::Proxy "http://10.77.0.1:3142/";')
    expect(conf).toContain('Acquire::http::Proxy::10.77.0.1 "DIRECT";')
  })
})

describe('preflight', () => {
  const probe = (over: Partial<PreflightProbe>): PreflightProbe => ({filesystems: () => 'nodev\toverlay\n', findTool: () => '/usr/bin/x', uid: () => 0, ...over})

  it('needs root', () => {
    expect(() => preflight(['ip'], probe({uid: () => 1000}))).toThrow(/needs root/)
  })

  it('needs overlayfs', () => {
    expect(() => preflight(['ip'], probe({filesystems: () => 'nodev\tproc\n'}))).toThrow(/overlayfs/)
  })

  it('names missing tools and the exact install line', () => {
    const missing = new Set(['debootstrap', 'apt-cacher-ng', 'nsenter'])
    const error = (() => {
      try {
        preflight(['debootstrap', 'apt-cacher-ng', 'nsenter', 'ip'], probe({findTool: (t) => (missing.has(t) ? undefined : `/usr/bin/${t}`)}))
      } catch (error_) {
        return error_ as UsageError
      }

      return undefined
    })()
    expect(error).toBeInstanceOf(UsageError)
    expect(error?.message).toContain('apt-get install -y apt-cacher-ng debootstrap util-linux')
    expect(error?.exitCode).toBe(2)
  })

  it('has one install line for everything', () => {
    expect(installLine()).toBe('apt-get install -y apt-cacher-ng coreutils debootstrap dpkg gnupg iproute2 mount util-linux')
  })
})

describe('guest helpers', () => {
  it('turns ip -j addr into the guest agent shape', () => {
    const json = JSON.stringify([
      {addr_info: [{family: 'inet', local: '127.0.0.1', prefixlen: 8}], address: '00:00:00:00:00:00', ifname: 'lo'},
      {addr_info: [{family: 'inet', local: '10.77.0.11', prefixlen: 24}, {family: 'inet6', local: 'fe80::1', prefixlen: 64}], address: 'bc:24:11:00:00:65', ifname: 'eth0'},
    ])
    expect(toGuestInterfaces(json)[1]).toEqual({
      'hardware-address': 'bc:24:11:00:00:65',
      'ip-addresses': [
        {'ip-address': '10.77.0.11', 'ip-address-type': 'ipv4', prefix: 24},
        {'ip-address': 'fe80::1', 'ip-address-type': 'ipv6', prefix: 64},
      ],
      name: 'eth0',
    })
  })

  it('takes the MAC from net0, else derives one in the Proxmox range', () => {
    expect(vmMac(101, {net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=20'})).toBe('bc:24:11:aa:bb:cc')
    expect(vmMac(101, {})).toBe('bc:24:11:00:00:65')
  })

  it('writes a seed the init can source safely', () => {
    const env = seedEnv(101, {...ci, gateway: '10.77.0.1', ip: '10.77.0.11/24', searchdomain: "it's.odd"})
    const out = execFileSync('bash', ['-c', 'eval "$(cat)"; printf "%s|%s|%s" "$KPLAB_HOSTNAME" "$KPLAB_SEARCHDOMAIN" "$KPLAB_NAMESERVERS"'], {encoding: 'utf8', input: env})
    expect(out).toBe("cp1|it's.odd|10.77.0.1")
  })

  it('refuses cloud-init settings the lab cannot apply', () => {
    expect(() => validateCloudInit(101, {...ci, hostname: 'bad_name'})).toThrow(/hostname/)
    expect(() => validateCloudInit(101, {...ci, ip: 'dhcp'})).toThrow(/no DHCP/)
    expect(() => validateCloudInit(101, {...ci, sshAuthorizedKeys: ['a\nb']})).toThrow(/one key/)
    expect(() => validateCloudInit(101, {...ci, gateway: '10.77.0.1', ip: '10.77.0.11/24'})).not.toThrow()
  })
})

describe('Kubernetes package repositories', () => {
  it('lays repositories out per minor like pkgs.k8s.io', () => {
    expect(repoPath('1.31')).toBe('core:/stable:/v1.31/deb')
    expect(LAB_RELEASES.map((r) => r.minor)).toEqual(['1.30', '1.31', '1.32', '1.33'])
    for (const r of LAB_RELEASES) expect(r.patches.length).toBeGreaterThanOrEqual(2)
  })

  it('builds stub packages with upstream-style versions and dependencies', () => {
    const pkgs = minorPackages(LAB_RELEASES[1]!)
    const kubeadm = pkgs.find((p) => p.control.Package === 'kubeadm' && p.version === '1.31.9')
    expect(kubeadm?.control.Version).toBe('1.31.9-1.1')
    expect(kubeadm?.control.Depends).toBe('cri-tools (>= 1.31.0)')
    expect(pkgs.find((p) => p.name === 'kubelet')?.control.Depends).toContain('kubernetes-cni')
    expect(minorPackages(LAB_RELEASES[2]!).find((p) => p.name === 'kubelet')?.control.Depends).not.toContain('kubernetes-cni')
    expect(pkgs.filter((p) => p.name === 'kubectl').map((p) => p.version)).toEqual(['1.31.8', '1.31.9'])
  })

  it('renders stub binaries that print their version like the real ones', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-lab-stub-'))
    const pkgs = minorPackages(LAB_RELEASES[1]!).filter((p) => p.version === '1.31.9' || p.name === 'cri-tools')
    const run = (name: string, args: string[]) => {
      const file = pkgs.flatMap((p) => p.files).find((f) => f.path === `/usr/bin/${name}`)
      const script = path.join(dir, name)
      writeFileSync(script, file?.content ?? '', {mode: 0o755})
      return spawnSync('bash', [script, ...args], {encoding: 'utf8'})
    }

    expect(run('kubeadm', ['version', '-o', 'short']).stdout).toBe('v1.31.9\n')
    expect(run('kubeadm', ['version']).stdout).toContain('GitVersion:"v1.31.9"')
    expect(JSON.parse(run('kubeadm', ['version', '-o', 'json']).stdout)).toMatchObject({clientVersion: {gitVersion: 'v1.31.9', major: '1', minor: '31'}})
    expect(run('kubelet', ['--version']).stdout).toBe('Kubernetes v1.31.9\n')
    expect(run('kubectl', ['version', '--client']).stdout).toBe('Client Version: v1.31.9\nKustomize Version: v5.4.2\n')
    expect(JSON.parse(run('kubectl', ['version', '--client', '-o', 'json']).stdout)).toMatchObject({clientVersion: {gitVersion: 'v1.31.9'}})
    expect(run('crictl', ['--version']).stdout).toBe('crictl version v1.31.1\n')
    rmSync(dir, {force: true, recursive: true})
  })

  it('writes Packages stanzas and a Release with every hash apt checks', () => {
    const deb = Buffer.from('not really a deb')
    const stanza = packagesStanza({Description: 'x\n more', Package: 'kubectl', Version: '1.31.9-1.1'}, 'amd64/kubectl_1.31.9-1.1_amd64.deb', deb)
    expect(stanza).toMatch(/^Package: kubectl\nVersion: 1.31.9-1.1\nFilename: amd64\/kubectl_1.31.9-1.1_amd64.deb\nSize: 16\nMD5sum: [0-9a-f]{32}\nSHA1: [0-9a-f]{40}\nSHA256: [0-9a-f]{64}\nDescription: x\n more\n$/)
    const release = releaseText('1.31', [{content: Buffer.from(stanza), name: 'Packages'}], new Date('2026-01-02T03:04:05Z'))
    expect(release).toContain('Label: isv:kubernetes:core:stable:v1.31\n')
    expect(release).toContain('Date: Fri, 02 Jan 2026 03:04:05 UTC\n')
    for (const field of ['MD5Sum:', 'SHA1:', 'SHA256:', 'SHA512:']) expect(release).toContain(`\n${field}\n ${''}`)
    expect(controlText({A: '1', B: '2'})).toBe('A: 1\nB: 2\n')
  })
})

describe('repository server paths', () => {
  it('stays inside its root', () => {
    expect(resolveInRoot('/srv/repo', '/core:/stable:/v1.31/deb/Release')).toBe('/srv/repo/core:/stable:/v1.31/deb/Release')
    expect(resolveInRoot('/srv/repo', '/core%3A/stable%3A/v1.31/deb/InRelease')).toBe('/srv/repo/core:/stable:/v1.31/deb/InRelease')
    expect(resolveInRoot('/srv/repo', '/../../etc/passwd')).toBe('/srv/repo/etc/passwd')
    expect(resolveInRoot('/srv/repo', '/%2e%2e/%2e%2e/etc/passwd')).toBe('/srv/repo/etc/passwd')
    expect(resolveInRoot('/srv/repo', '/%00')).toBeUndefined()
  })
})

describe('lab shell assets', () => {
  const shellcheck = spawnSync('shellcheck', ['--version']).status === 0
  if (!shellcheck) console.warn('test/lab/host/unit.test.ts: shellcheck is not installed (apt-get install -y shellcheck); shell assets not checked')

  it.skipIf(!shellcheck)('are shellcheck-clean', () => {
    const assets = assetsDir()
    const stubs = path.join(assets, 'image/rootfs/usr/lib/kp-lab/stubs')
    const bash = [
      ...readdirSync(stubs).map((f) => path.join(stubs, f)),
      path.join(assets, 'image/rootfs/usr/lib/kp-lab/stub-lib.sh'),
      path.join(assets, 'image/rootfs/usr/lib/kp-lab/crictl.sh'),
      path.join(assets, 'image/rootfs/usr/lib/kp-lab/container-run'),
      path.join(assets, 'image/rootfs/usr/local/sbin/kp-lab-init'),
      path.join(assets, 'image/customize.sh'),
      path.join(assets, 'host/vm-boot.sh'),
      path.join(assets, 'host/vm-supervise.sh'),
    ]
    // The package stubs as rendered (they source the image's stub library, checked above).
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-lab-sc-'))
    const rendered: string[] = []
    for (const p of minorPackages(LAB_RELEASES[0]!)) {
      for (const f of p.files.filter((file) => file.mode === 0o755)) {
        const out = path.join(dir, `${p.name}-${path.basename(f.path)}`)
        writeFileSync(out, f.content)
        rendered.push(out)
      }
    }

    const checks = [
      spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...bash], {encoding: 'utf8'}),
      spawnSync('shellcheck', ['-e', 'SC1091', ...rendered], {encoding: 'utf8'}),
      spawnSync('shellcheck', ['-s', 'sh', path.join(assets, 'image/rootfs/etc/ssh/sshrc'), path.join(assets, 'packages/files/kubelet.postinst')], {encoding: 'utf8'}),
    ]
    rmSync(dir, {force: true, recursive: true})
    for (const check of checks) expect(check.stdout + check.stderr).toBe('')
  })

  it('change the image recipe when they change', () => {
    expect(hashTree(path.join(assetsDir(), 'image'))).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('the lab updates repository', () => {
  it('bumps the installed version past everything published, so apt always sees a newer one', () => {
    expect(nextLabVersion('2:4.0.2-3', [])).toBe('2:4.0.2-3+kplab1')
    expect(nextLabVersion('2:4.0.2-3', ['2:4.0.2-3+kplab1', '2:4.0.2-3+kplab7', '9.9', '2:4.0.2-3+kplab2~x'])).toBe('2:4.0.2-3+kplab8')
    expect(nextLabVersion('6.1.0-kplab1', ['6.1.0-kplab1+kplab1'])).toBe('6.1.0-kplab1+kplab2')
    for (const v of ['2:4.0.2-3+kplab1', '1.9.13p3-1+deb12u4+kplab1']) {
      const base = v.replace(/\+kplab1$/, '')
      expect(spawnSync('dpkg', ['--compare-versions', v, 'gt', base]).status, `${v} > ${base}`).toBe(0)
    }
  })

  it('names pool files as the archive does, without the epoch', () => {
    expect(debFileName('procps', '2:4.0.2-3+kplab1', 'amd64')).toBe('procps_4.0.2-3+kplab1_amd64.deb')
    expect(debFileName('sudo', '1.9.13p3-1+deb12u4', 'amd64')).toBe('sudo_1.9.13p3-1+deb12u4_amd64.deb')
  })

  it("adds Debian's reboot-required lines at the top of a postinst, which runs them on configure", () => {
    const plain = withRebootRequired(undefined, 'sudo')
    expect(plain).toMatch(/^#!\/bin\/sh\nset -e\n/)
    const existing = '#!/bin/sh\nset -e\necho configured\nexit 0\n'
    const patched = withRebootRequired(existing, 'openssh-server')
    expect(patched.indexOf('reboot-required')).toBeLessThan(patched.indexOf('exit 0'))
    expect(() => withRebootRequired('not a script', 'x')).toThrow(UsageError)
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-postinst-'))
    try {
      // Run against a private /var/run: the snippet writes the message and names the package once.
      const script = path.join(dir, 'postinst')
      writeFileSync(script, patched.replaceAll('/var/run', `${dir}/run`), {mode: 0o755})
      execFileSync('mkdir', [`${dir}/run`])
      for (const arg of ['configure', 'configure', 'abort-upgrade']) execFileSync(script, [arg])
      expect(readFileSync(`${dir}/run/reboot-required`, 'utf8')).toBe('*** System restart required ***\n')
      expect(readFileSync(`${dir}/run/reboot-required.pkgs`, 'utf8')).toBe('openssh-server\n')
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('reads the installed packages from dpkg status, continuation lines and all', () => {
    const status = [
      'Package: procps\nStatus: install ok installed\nVersion: 2:4.0.2-3\nArchitecture: amd64\nConffiles:\n /etc/sysctl.conf abc\nDescription: /proc tools\n more text',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1',
    ].join('\n\n')
    const installed = installedPackages(status)
    expect([...installed.keys()]).toEqual(['procps'])
    expect(installed.get('procps')).toMatchObject({Conffiles: '\n /etc/sysctl.conf abc', Description: '/proc tools\n more text', Version: '2:4.0.2-3'})
    expect(withVersion('Package: procps\nVersion: 2:4.0.2-3\nArchitecture: amd64\n', '2:4.0.2-3+kplab1')).toBe('Package: procps\nVersion: 2:4.0.2-3+kplab1\nArchitecture: amd64\n')
    expect(parseStanzas('')).toEqual([])
  })

  it('the Release of the updates repository hashes every index; the server maps its path to the state dir', () => {
    const release = flatReleaseText({Origin: 'kp lab', Label: 'kp lab updates'}, [{content: Buffer.from(''), name: 'Packages'}], new Date(0))
    expect(release).toContain('Origin: kp lab\nLabel: kp lab updates\nArchitectures: amd64\n')
    expect(release).toContain(' e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 Packages')
    const mounts = {[UPDATES_URL_PATH]: '/state/updates/repo'}
    expect(resolveRequest('/cache/packages', mounts, '/kp-lab-updates/InRelease')).toBe('/state/updates/repo/InRelease')
    expect(resolveRequest('/cache/packages', mounts, '/kp-lab-updates/../../etc/passwd')).toBe('/state/updates/repo/etc/passwd')
    expect(resolveRequest('/cache/packages', mounts, '/core:/stable:/v1.31/deb/Release')).toBe('/cache/packages/core:/stable:/v1.31/deb/Release')
    expect(updatesSourceLine('http://10.77.0.1:8080')).toBe('deb [signed-by=/usr/share/keyrings/kp-lab-updates.gpg] http://10.77.0.1:8080/kp-lab-updates/ /')
  })
})

/**
 * The lab's Kubernetes apt repositories, laid out like the upstream per-minor ones on pkgs.k8s.io:
 * one flat repository per minor (`<root>/core:/stable:/v1.31/deb/`, used as `deb [signed-by=…]
 * <base>/core:/stable:/v1.31/deb/ /`), each with Packages, a Release signed with the lab's own GPG
 * key (InRelease and Release.gpg) and that key as Release.key. The packages are stubs built with
 * dpkg-deb: kubeadm, kubelet, kubectl, cri-tools and kubernetes-cni at upstream-style versions
 * (1.31.9-1.1), whose binaries print their version like the real ones and log every call.
 * Built once per recipe into `<cacheDir>/packages-<hash>` (atomically, like the image).
 */
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

import {wrap} from '../../errors.js'
import {labEnv, run} from './exec.js'
import {hashTree} from './image.js'
import {withFileLock} from './lock.js'
import {assetsDir, cachePaths, type ResolvedLabOptions} from './options.js'
import {PACKAGE_TOOLS, preflight} from './preflight.js'
import {removeTree} from './system.js'

/** Bump when the repository layout or package contents change in a way the assets do not show. */
export const PACKAGES_RECIPE_VERSION = 1

export interface MinorRelease {
  /** cri-tools version in this minor's repository. */
  criTools: string
  /** kubernetes-cni version in this minor's repository. */
  cni: string
  /** Whether kubelet depends on kubernetes-cni (upstream dropped the dependency in v1.32). */
  kubeletNeedsCni: boolean
  minor: string
  /** Kubernetes patch versions, oldest first. */
  patches: string[]
}

export const LAB_RELEASES: MinorRelease[] = [
  {cni: '1.4.0', criTools: '1.30.1', kubeletNeedsCni: true, minor: '1.30', patches: ['1.30.13', '1.30.14']},
  {cni: '1.5.1', criTools: '1.31.1', kubeletNeedsCni: true, minor: '1.31', patches: ['1.31.8', '1.31.9']},
  {cni: '1.6.0', criTools: '1.32.0', kubeletNeedsCni: false, minor: '1.32', patches: ['1.32.4', '1.32.5']},
  {cni: '1.7.1', criTools: '1.33.0', kubeletNeedsCni: false, minor: '1.33', patches: ['1.33.4', '1.33.5']},
]

/** Upstream's Debian revision for packages built on OBS. */
export const DEBIAN_REVISION = '1.1'

export interface StubPackage {
  /** Files to install: absolute path in the package → content and mode. */
  files: Array<{content: string; mode: number; path: string}>
  control: Record<string, string>
  name: string
  postinst?: string
  version: string
}

export interface PackageRepos {
  /** The key as upstream serves it (ASCII-armoured), to fetch and `gpg --dearmor`. */
  keyFile: string
  /** `<root>/core:/stable:/v1.31/deb` for each minor. */
  minors: Record<string, string>
  root: string
  fingerprint: string
}

/** The path of a minor's repository below the root, as upstream: `core:/stable:/v1.31/deb`. */
export function repoPath(minor: string): string {
  return `core:/stable:/v${minor}/deb`
}

function renderStub(command: string, pkg: string, version: string): string {
  const template = readFileSync(path.join(assetsDir(), 'packages', 'stub-command.sh'), 'utf8')
  return template.replaceAll('@COMMAND@', command).replaceAll('@PACKAGE@', pkg).replaceAll('@VERSION@', version)
}

function assetFile(name: string): string {
  return readFileSync(path.join(assetsDir(), 'packages', 'files', name), 'utf8')
}

const MAINTAINER = 'Kubernetes Authors <dev@kubernetes.io>'
const HOMEPAGE = 'https://kubernetes.io'

function control(name: string, version: string, description: string, depends?: string): Record<string, string> {
  return {
    Package: name,
    Version: `${version}-${DEBIAN_REVISION}`,
    Architecture: 'amd64',
    Maintainer: MAINTAINER,
    ...(depends ? {Depends: depends} : {}),
    Section: 'admin',
    Priority: 'optional',
    Homepage: HOMEPAGE,
    Description: `${description}\n kp lab stub: prints its version like the real one and records every call\n to /var/log/kp-lab/calls.log.`,
  }
}

/** Every stub package of one minor's repository. */
export function minorPackages(release: MinorRelease): StubPackage[] {
  const bin = (command: string, pkg: string, version: string) => ({content: renderStub(command, pkg, version), mode: 0o755, path: `/usr/bin/${command}`})
  const pkgs: StubPackage[] = []
  for (const version of release.patches) {
    pkgs.push(
      {
        control: control('kubeadm', version, 'Command-line utility for administering a Kubernetes cluster', `cri-tools (>= ${release.minor}.0)`),
        files: [bin('kubeadm', 'kubeadm', version), {content: assetFile('10-kubeadm.conf'), mode: 0o644, path: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'}],
        name: 'kubeadm',
        version,
      },
      {
        control: control(
          'kubelet',
          version,
          'Node agent for Kubernetes clusters',
          [`iptables (>= 1.4.21)`, ...(release.kubeletNeedsCni ? ['kubernetes-cni (>= 1.1.1)'] : []), 'iproute2', 'socat', 'util-linux', 'mount', 'ebtables', 'ethtool', 'conntrack'].join(', '),
        ),
        files: [bin('kubelet', 'kubelet', version), {content: assetFile('kubelet.service'), mode: 0o644, path: '/usr/lib/systemd/system/kubelet.service'}],
        name: 'kubelet',
        postinst: assetFile('kubelet.postinst'),
        version,
      },
      {control: control('kubectl', version, 'Command-line utility for interacting with a Kubernetes cluster'), files: [bin('kubectl', 'kubectl', version)], name: 'kubectl', version},
    )
  }

  pkgs.push(
    {control: control('cri-tools', release.criTools, 'Command-line utility for interacting with a container runtime'), files: [bin('crictl', 'cri-tools', release.criTools)], name: 'cri-tools', version: release.criTools},
    {
      control: control('kubernetes-cni', release.cni, 'Binaries required to provision kubernetes container networking'),
      files: ['bridge', 'host-local', 'loopback', 'portmap'].map((plugin) => ({content: renderStub(plugin, 'kubernetes-cni', release.cni), mode: 0o755, path: `/opt/cni/bin/${plugin}`})),
      name: 'kubernetes-cni',
      version: release.cni,
    },
  )
  return pkgs
}

export function controlText(fields: Record<string, string>): string {
  return `${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`
}

const HASHES = [
  ['MD5Sum', 'md5'],
  ['SHA1', 'sha1'],
  ['SHA256', 'sha256'],
  ['SHA512', 'sha512'],
] as const

/** One Packages stanza for a built .deb. */
export function packagesStanza(fields: Record<string, string>, filename: string, deb: Buffer): string {
  const {Description: description, ...rest} = fields
  const digest = (algo: string) => createHash(algo).update(deb).digest('hex')
  return controlText({
    ...rest,
    Filename: filename,
    Size: String(deb.length),
    MD5sum: digest('md5'),
    SHA1: digest('sha1'),
    SHA256: digest('sha256'),
    ...(description === undefined ? {} : {Description: description}),
  })
}

/** A flat repository's Release file, as upstream's OBS writes it. */
export function releaseText(minor: string, files: Array<{content: Buffer; name: string}>, date: Date): string {
  return flatReleaseText({Origin: `obs://build.opensuse.org/isv:kubernetes:core:stable:v${minor}/deb`, Label: `isv:kubernetes:core:stable:v${minor}`}, files, date)
}

/** A flat repository's Release file: the given header fields, then each index file's hashes. */
export function flatReleaseText(header: Record<string, string>, files: Array<{content: Buffer; name: string}>, date: Date): string {
  const lines = [
    ...Object.entries(header).map(([k, v]) => `${k}: ${v}`),
    'Architectures: amd64',
    `Date: ${date.toUTCString().replace('GMT', 'UTC')}`,
  ]
  for (const [field, algo] of HASHES) {
    lines.push(`${field}:`)
    for (const f of files) lines.push(` ${createHash(algo).update(f.content).digest('hex')} ${f.content.length} ${f.name}`)
  }

  return `${lines.join('\n')}\n`
}

function packagesHash(): string {
  return createHash('sha256')
    .update(JSON.stringify({releases: LAB_RELEASES, revision: DEBIAN_REVISION, version: PACKAGES_RECIPE_VERSION}))
    .update(hashTree(path.join(assetsDir(), 'packages')))
    .digest('hex')
    .slice(0, 16)
}

function gpgEnv(home: string): NodeJS.ProcessEnv {
  return labEnv({GNUPGHOME: home})
}

/** The lab's repository signing key, generated once into the cache dir. Returns its fingerprint. */
export async function ensureSigningKey(options: ResolvedLabOptions): Promise<{fingerprint: string; home: string}> {
  const home = cachePaths(options.cacheDir).gnupg
  const fingerprintFile = path.join(home, 'kp-lab-fingerprint')
  if (existsSync(fingerprintFile)) return {fingerprint: readFileSync(fingerprintFile, 'utf8').trim(), home}
  mkdirSync(options.cacheDir, {recursive: true})
  return withFileLock(path.join(options.cacheDir, '.gnupg.lock'), 120_000, 'creating the lab signing key', async () => {
    if (existsSync(fingerprintFile)) return {fingerprint: readFileSync(fingerprintFile, 'utf8').trim(), home}
    const tmp = `${home}.tmp-${process.pid}`
    await removeTree(tmp)
    mkdirSync(tmp, {mode: 0o700, recursive: true})
    try {
      await run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'kp lab packages <lab-packages@kp.invalid>', 'rsa3072', 'sign', 'never'], {env: gpgEnv(tmp)})
      const {stdout} = await run('gpg', ['--batch', '--with-colons', '--list-secret-keys'], {env: gpgEnv(tmp)})
      const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)?.[1]
      if (!fingerprint) throw new Error('gpg made no key')
      writeFileSync(path.join(tmp, 'kp-lab-fingerprint'), `${fingerprint}\n`)
    } finally {
      await stopGpgAgent(tmp)
    }

    await removeTree(home)
    renameSync(tmp, home)
    return {fingerprint: readFileSync(fingerprintFile, 'utf8').trim(), home}
  })
}

/** gpg starts an agent per home dir; the lab leaves no process behind. */
export async function stopGpgAgent(home: string): Promise<void> {
  await run('gpgconf', ['--kill', 'all'], {allowFailure: true, env: gpgEnv(home)})
}

/** Builds (once per recipe) and returns the lab's signed repositories. */
export async function ensurePackages(options: ResolvedLabOptions): Promise<PackageRepos> {
  preflight(PACKAGE_TOOLS)
  const key = await ensureSigningKey(options)
  const hash = createHash('sha256').update(packagesHash()).update(key.fingerprint).digest('hex').slice(0, 16)
  const root = path.join(options.cacheDir, `packages-${hash}`)
  const result: PackageRepos = {
    fingerprint: key.fingerprint,
    keyFile: path.join(root, repoPath(LAB_RELEASES[0]?.minor ?? '1.31'), 'Release.key'),
    minors: Object.fromEntries(LAB_RELEASES.map((r) => [r.minor, path.join(root, repoPath(r.minor))])),
    root,
  }
  const marker = path.join(root, '.kp-lab-complete')
  if (existsSync(marker)) return result
  return withFileLock(path.join(options.cacheDir, `.packages-${hash}.lock`), 10 * 60_000, 'building the lab package repositories', async () => {
    if (existsSync(marker)) return result
    options.log(`building the lab's Kubernetes package repositories ${hash}`)
    const tmp = `${root}.tmp-${process.pid}`
    await removeTree(tmp)
    try {
      for (const release of LAB_RELEASES) await buildRepo(path.join(tmp, repoPath(release.minor)), release, key)
      writeFileSync(path.join(tmp, '.kp-lab-complete'), `${new Date().toISOString()}\n`)
      await removeTree(root)
      renameSync(tmp, root)
    } catch (error) {
      await removeTree(tmp)
      throw wrap('building the lab package repositories', error)
    } finally {
      await stopGpgAgent(key.home)
    }

    return result
  })
}

async function buildRepo(dir: string, release: MinorRelease, key: {fingerprint: string; home: string}): Promise<void> {
  const arch = path.join(dir, 'amd64')
  mkdirSync(arch, {recursive: true})
  const stanzas: string[] = []
  for (const pkg of minorPackages(release)) {
    const debName = `${pkg.name}_${pkg.version}-${DEBIAN_REVISION}_amd64.deb`
    const {deb, fields} = await buildDeb(dir, pkg, path.join(arch, debName))
    stanzas.push(packagesStanza(fields, `amd64/${debName}`, deb))
  }

  await writeSignedIndexes(dir, stanzas, key, (files) => releaseText(release.minor, files, new Date()))
}

/**
 * Writes a flat repository's Packages, Packages.gz and the Release over them (from `release`),
 * signed with the lab key as InRelease and Release.gpg, and the key itself as Release.key.
 */
export async function writeSignedIndexes(
  dir: string,
  stanzas: readonly string[],
  key: {fingerprint: string; home: string},
  release: (files: Array<{content: Buffer; name: string}>) => string,
): Promise<void> {
  const packages = Buffer.from(stanzas.join('\n'))
  writeFileSync(path.join(dir, 'Packages'), packages)
  const packagesGz = gzipSync(packages, {level: 9})
  writeFileSync(path.join(dir, 'Packages.gz'), packagesGz)
  writeFileSync(path.join(dir, 'Release'), release([{content: packages, name: 'Packages'}, {content: packagesGz, name: 'Packages.gz'}]))
  const sign = ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--local-user', key.fingerprint, '--digest-algo', 'SHA256']
  await run('gpg', [...sign, '--clearsign', '--output', path.join(dir, 'InRelease'), path.join(dir, 'Release')], {env: gpgEnv(key.home)})
  await run('gpg', [...sign, '--armor', '--detach-sign', '--output', path.join(dir, 'Release.gpg'), path.join(dir, 'Release')], {env: gpgEnv(key.home)})
  await run('sh', ['-c', 'gpg --batch --armor --export "$1" > "$2"', 'sh', key.fingerprint, path.join(dir, 'Release.key')], {env: gpgEnv(key.home)})
}

async function buildDeb(repoDir: string, pkg: StubPackage, out: string): Promise<{deb: Buffer; fields: Record<string, string>}> {
  const tree = path.join(repoDir, '.build', `${pkg.name}-${pkg.version}`)
  mkdirSync(path.join(tree, 'DEBIAN'), {recursive: true})
  let bytes = 0
  for (const file of pkg.files) {
    const target = path.join(tree, file.path)
    mkdirSync(path.dirname(target), {recursive: true})
    writeFileSync(target, file.content)
    chmodSync(target, file.mode)
    bytes += Buffer.byteLength(file.content)
  }

  const {Description: description = '', ...rest} = pkg.control
  const fields = {...rest, 'Installed-Size': String(Math.max(1, Math.ceil(bytes / 1024))), Description: description}
  writeFileSync(path.join(tree, 'DEBIAN', 'control'), controlText(fields))
  if (pkg.postinst) {
    writeFileSync(path.join(tree, 'DEBIAN', 'postinst'), pkg.postinst)
    chmodSync(path.join(tree, 'DEBIAN', 'postinst'), 0o755)
  }

  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, out])
  await removeTree(path.join(repoDir, '.build'))
  return {deb: readFileSync(out), fields}
}

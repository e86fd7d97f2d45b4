/**
 * The lab's updates repository: a flat apt repository every lab VM has as a source out of the box
 * (`deb [signed-by=/usr/share/keyrings/kp-lab-updates.gpg] http://10.77.0.1:8080/kp-lab-updates/ /`),
 * signed with the lab's key like the Kubernetes repositories and served by the same repo server.
 * It starts empty; `kp lab publish-update PACKAGE` puts a newer version of a package installed in
 * the node image into it, so that `apt-get upgrade` in a VM is a real dpkg upgrade of real
 * contents: Debian's own .deb (from the lab's apt-cacher-ng cache, where debootstrap fetched it) or,
 * for a package that never came through the proxy (linux-image-kplab), the package repacked from the
 * image root as dpkg-repack does — only the version is bumped, to `<installed>+kplab<N>`.
 *
 * Layout of `<stateDir>/updates/`: `pool/` holds every published .deb; each publish writes a new
 * `gen-<n>/` (Packages, Packages.gz, Release, InRelease, Release.gpg and `pool` → ../pool) and then
 * renames the `repo` symlink onto it, so apt sees the old indexes or the new ones, never a mix. The
 * served Packages is the state: the next N and the versions already published are read from it.
 */
import {chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {UsageError, wrap} from '../../errors.js'
import {run} from './exec.js'
import {withFileLock} from './lock.js'
import {cachePaths, type ResolvedLabOptions} from './options.js'
import {ensureSigningKey, flatReleaseText, packagesStanza, stopGpgAgent, writeSignedIndexes} from './packages.js'
import {PACKAGE_TOOLS, preflight} from './preflight.js'
import {removeTree} from './system.js'

/** Where the repo server serves the updates repository, below its base URL. */
export const UPDATES_URL_PATH = 'kp-lab-updates'
/** The lab key, binary, in every VM: what the updates source line's signed-by names. */
export const UPDATES_KEYRING = '/usr/share/keyrings/kp-lab-updates.gpg'
export const UPDATES_SOURCES_FILE = '/etc/apt/sources.list.d/kp-lab-updates.list'
/** The image's kernel-like package (built by lab/assets/image/customize.sh). */
export const KERNEL_PACKAGE = 'linux-image-kplab'
/** Packages that come from the lab's Kubernetes repositories, never from the updates repository. */
export const KUBERNETES_PACKAGES = ['kubeadm', 'kubelet', 'kubectl', 'cri-tools', 'kubernetes-cni'] as const

export function updatesSourceLine(baseUrl: string): string {
  return `deb [signed-by=${UPDATES_KEYRING}] ${baseUrl}/${UPDATES_URL_PATH}/ /`
}

/** What the image carries in UPDATES_SOURCES_FILE. */
export function updatesSourcesFile(baseUrl: string): string {
  return `# kp lab: the lab's updates repository (kp lab publish-update), signed with the lab's key.\n${updatesSourceLine(baseUrl)}\n`
}

export function updatesDir(stateDir: string): string {
  return path.join(stateDir, 'updates')
}

/** The folder the repo server maps UPDATES_URL_PATH to: a symlink to the current generation. */
export function updatesServedRoot(stateDir: string): string {
  return path.join(updatesDir(stateDir), 'repo')
}

// --- pure parts ------------------------------------------------------------------------------

/** Parses deb822 stanzas (dpkg's status file, a Packages file): field → value, continuation lines kept. */
export function parseStanzas(text: string): Array<Record<string, string>> {
  const stanzas: Array<Record<string, string>> = []
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {}
    let last: string | undefined
    for (const line of block.split('\n')) {
      if (line === '') continue
      if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
        fields[last] += `\n${line}`
        continue
      }

      const colon = line.indexOf(':')
      if (colon <= 0) continue
      last = line.slice(0, colon)
      fields[last] = line.slice(colon + 1).trim()
    }

    if (Object.keys(fields).length > 0) stanzas.push(fields)
  }

  return stanzas
}

/** The packages dpkg has installed in a root (`Status: install ok installed`), by name. */
export function installedPackages(statusText: string): Map<string, Record<string, string>> {
  const installed = new Map<string, Record<string, string>>()
  for (const s of parseStanzas(statusText)) {
    if (s.Package && /\binstalled$/.test(s.Status ?? '') && !/config-files|half|not-installed/.test(s.Status ?? '')) installed.set(s.Package, s)
  }

  return installed
}

/**
 * The next lab version of a package: `<installed>+kplab<N>`, N one more than the highest N already
 * published for that installed version (so publishing again always gives apt something newer).
 */
export function nextLabVersion(installed: string, published: readonly string[]): string {
  const prefix = `${installed}+kplab`
  let n = 0
  for (const v of published) {
    const m = v.startsWith(prefix) ? /^(\d+)$/.exec(v.slice(prefix.length)) : null
    if (m) n = Math.max(n, Number(m[1]))
  }

  return `${prefix}${n + 1}`
}

/** A pool file name as Debian's archive spells it: no epoch. */
export function debFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replace(/^\d+:/, '')}_${arch}.deb`
}

/**
 * What Debian's reboot-required hooks do (update-notifier-common's notify-reboot-required, run from
 * /etc/kernel/postinst.d, and unattended-upgrades' kernel hook): write the message to
 * /var/run/reboot-required and add the package to /var/run/reboot-required.pkgs once.
 */
export function rebootRequiredSnippet(pkg: string): string {
  return [
    '# kp lab: this update needs a reboot, as Debian\'s kernel hooks record it.',
    'if [ "$1" = configure ] && [ -d /var/run ]; then',
    "  echo '*** System restart required ***' > /var/run/reboot-required",
    `  grep -qx '${pkg}' /var/run/reboot-required.pkgs 2>/dev/null || echo '${pkg}' >> /var/run/reboot-required.pkgs`,
    'fi',
    '',
  ].join('\n')
}

/** A postinst with the reboot-required snippet run first (a postinst may end with `exit 0`). */
export function withRebootRequired(postinst: string | undefined, pkg: string): string {
  if (postinst === undefined || postinst.trim() === '') return `#!/bin/sh\nset -e\n${rebootRequiredSnippet(pkg)}`
  const nl = postinst.indexOf('\n')
  if (!postinst.startsWith('#!') || nl < 0) throw new UsageError(`the postinst of ${pkg} is not a script kp can add to`)
  return `${postinst.slice(0, nl + 1)}${rebootRequiredSnippet(pkg)}${postinst.slice(nl + 1)}`
}

/** A control file with its Version replaced. */
export function withVersion(control: string, version: string): string {
  if (!/^Version: .*$/m.test(control)) throw new UsageError('the package has no Version field')
  return control.replace(/^Version: .*$/m, `Version: ${version}`)
}

// --- the repository ----------------------------------------------------------------------------

interface Signing {
  fingerprint: string
  home: string
}

function releaseFor(files: Array<{content: Buffer; name: string}>): string {
  return flatReleaseText({Origin: 'kp lab', Label: 'kp lab updates'}, files, new Date())
}

/** Makes the empty (valid, signed) updates repository if the lab has none yet. */
export async function ensureUpdatesRepo(options: ResolvedLabOptions): Promise<string> {
  const served = updatesServedRoot(options.stateDir)
  if (existsSync(path.join(served, 'InRelease'))) return served
  const key = await ensureSigningKey(options)
  mkdirSync(updatesDir(options.stateDir), {recursive: true})
  await withFileLock(path.join(updatesDir(options.stateDir), '.lock'), 120_000, 'creating the lab updates repository', async () => {
    if (!existsSync(path.join(served, 'InRelease'))) await writeGeneration(options.stateDir, [], key)
  })
  return served
}

/** Writes a new generation with these stanzas and switches `repo` to it in one rename. */
async function writeGeneration(stateDir: string, stanzas: readonly string[], key: Signing): Promise<void> {
  const dir = updatesDir(stateDir)
  const pool = path.join(dir, 'pool')
  mkdirSync(pool, {recursive: true})
  const gens = generations(dir)
  const n = (gens.at(-1) ?? 0) + 1
  const gen = path.join(dir, `gen-${n}`)
  await removeTree(gen)
  mkdirSync(gen)
  try {
    await writeSignedIndexes(gen, stanzas, key, releaseFor)
  } finally {
    await stopGpgAgent(key.home)
  }

  symlinkSync('../pool', path.join(gen, 'pool'))
  // apt revalidates with If-Modified-Since (seconds): a generation written within the second of the
  // previous one must still look newer, or apt keeps the old indexes.
  const previous = path.join(updatesServedRoot(stateDir), 'InRelease')
  const floor = existsSync(previous) ? Math.floor(statSync(previous).mtimeMs / 1000) + 1 : 0
  const when = Math.max(Math.floor(Date.now() / 1000), floor)
  for (const f of readdirSync(gen)) if (f !== 'pool') utimesSync(path.join(gen, f), when, when)
  const link = path.join(dir, `.repo-${process.pid}`)
  await removeTree(link)
  symlinkSync(`gen-${n}`, link)
  renameSync(link, updatesServedRoot(stateDir))
  // A client may still be reading the previous generation: keep it, drop the older ones.
  for (const old of gens.slice(0, -1)) await removeTree(path.join(dir, `gen-${old}`))
}

function generations(dir: string): number[] {
  try {
    return readdirSync(dir)
      .map((f) => /^gen-(\d+)$/.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  } catch {
    return []
  }
}

/** The stanzas the repository serves now. */
function servedStanzas(stateDir: string): Array<Record<string, string>> {
  try {
    return parseStanzas(readFileSync(path.join(updatesServedRoot(stateDir), 'Packages'), 'utf8'))
  } catch {
    return []
  }
}

// --- publishing --------------------------------------------------------------------------------

export interface PublishRequest {
  /** The node image root (what the VMs have installed). */
  imageDir: string
  packages: readonly string[]
  /** The new versions' postinst writes /var/run/reboot-required (linux-image-kplab's always does). */
  rebootRequired?: boolean
  /** The version to publish instead of `<installed>+kplab<N>` (one package only). */
  version?: string
}

export interface PublishedPackage {
  architecture: string
  /** Pool file below the repository URL. */
  filename: string
  installed: string
  package: string
  rebootRequired: boolean
  /** Where the real contents came from. */
  source: 'apt-cacher-ng' | 'image'
  version: string
}

export async function publishUpdates(options: ResolvedLabOptions, request: PublishRequest): Promise<PublishedPackage[]> {
  if (request.packages.length === 0) throw new UsageError('name the packages to publish: kp lab publish-update PACKAGE…')
  preflight(PACKAGE_TOOLS)
  if (request.version !== undefined && request.packages.length > 1) throw new UsageError('--version applies to one package: publish the others separately')
  const installed = installedPackages(readFileSync(path.join(request.imageDir, 'var/lib/dpkg/status'), 'utf8'))
  for (const name of request.packages) checkPublishable(name, installed)
  const key = await ensureSigningKey(options)
  await ensureUpdatesRepo(options)
  const dir = updatesDir(options.stateDir)
  return withFileLock(path.join(dir, '.lock'), 10 * 60_000, 'publishing to the lab updates repository', async () => {
    const served = servedStanzas(options.stateDir)
    const stanzas = served.map((s) => stanzaText(s))
    const published: PublishedPackage[] = []
    for (const name of [...new Set(request.packages)]) {
      const fields = installed.get(name)!
      const versions = served.filter((s) => s.Package === name).map((s) => s.Version ?? '')
      const version = request.version ?? nextLabVersion(fields.Version!, versions)
      await checkNewer(name, fields.Version!, version, versions)
      const rebootRequired = request.rebootRequired === true || name === KERNEL_PACKAGE
      const built = await buildUpdate(options, request.imageDir, fields, version, request.rebootRequired === true)
      stanzas.push(built.stanza)
      published.push({architecture: fields.Architecture ?? 'amd64', filename: built.filename, installed: fields.Version!, package: name, rebootRequired, source: built.source, version})
    }

    await writeGeneration(options.stateDir, stanzas, key)
    return published
  })
}

function checkPublishable(name: string, installed: Map<string, Record<string, string>>): void {
  if ((KUBERNETES_PACKAGES as readonly string[]).includes(name)) {
    throw new UsageError(`${name} comes from the lab's Kubernetes repositories, not from the updates repository`, {
      hint: 'its versions are the ones kp.yaml pins (kubernetesVersion); publish Debian packages of the node image instead, e.g. kp lab publish-update openssh-server',
    })
  }

  if (!installed.has(name)) {
    throw new UsageError(`${name} is not installed in the lab's node image, so there is nothing to update`, {
      hint: `publish a package the image has, e.g. ${KERNEL_PACKAGE}, openssh-server, sudo or procps (list them in a VM with dpkg-query -W)`,
    })
  }
}

async function checkNewer(name: string, installed: string, version: string, published: readonly string[]): Promise<void> {
  if (!/^(\d+:)?[0-9][A-Za-z0-9.+~-]*$/.test(version)) throw new UsageError(`--version ${version} is not a Debian version (like ${installed}+kplab1)`)
  const newer = await run('dpkg', ['--compare-versions', version, 'gt', installed], {allowFailure: true})
  if (newer.code !== 0) throw new UsageError(`${name} ${version} is not newer than the installed ${installed}`, {hint: 'give a higher --version, or leave it out for the next +kplabN'})
  if (published.includes(version)) throw new UsageError(`${name} ${version} is already published`, {hint: 'leave --version out for the next +kplabN'})
}

function stanzaText(fields: Record<string, string>): string {
  return `${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`
}

/** Rebuilds the package's real .deb at the new version, into the pool; returns its Packages stanza. */
async function buildUpdate(
  options: ResolvedLabOptions,
  imageDir: string,
  fields: Record<string, string>,
  version: string,
  addRebootRequired: boolean,
): Promise<{filename: string; source: PublishedPackage['source']; stanza: string}> {
  const name = fields.Package!
  const arch = fields.Architecture ?? 'amd64'
  const dir = updatesDir(options.stateDir)
  const work = path.join(dir, `.build-${process.pid}`)
  await removeTree(work)
  mkdirSync(work, {recursive: true})
  try {
    const tree = path.join(work, 'tree')
    const cached = await cachedDeb(options, name, fields.Version!, arch)
    if (cached) await run('dpkg-deb', ['--raw-extract', cached, tree])
    else repackFromRoot(imageDir, fields, tree)
    const control = path.join(tree, 'DEBIAN', 'control')
    writeFileSync(control, withVersion(readFileSync(control, 'utf8'), version))
    if (addRebootRequired) {
      const postinst = path.join(tree, 'DEBIAN', 'postinst')
      writeFileSync(postinst, withRebootRequired(existsSync(postinst) ? readFileSync(postinst, 'utf8') : undefined, name))
      chmodSync(postinst, 0o755)
    }

    const filename = `pool/${debFileName(name, version, arch)}`
    const out = path.join(dir, filename)
    await run('dpkg-deb', ['-Zxz', '--build', tree, out])
    const built = parseStanzas(readFileSync(control, 'utf8'))[0] ?? {}
    return {filename, source: cached ? 'apt-cacher-ng' : 'image', stanza: packagesStanza(built, filename, readFileSync(out))}
  } catch (error) {
    throw wrap(`publishing ${name} ${version}`, error)
  } finally {
    await removeTree(work)
  }
}

/** Debian's own .deb of exactly the installed version, if the lab's apt-cacher-ng has it. */
async function cachedDeb(options: ResolvedLabOptions, name: string, version: string, arch: string): Promise<string | undefined> {
  const cache = cachePaths(options.cacheDir).aptCache
  if (!existsSync(cache)) return undefined
  const {stdout} = await run('find', [cache, '-type', 'f', '-name', debFileName(name, version, arch)], {allowFailure: true})
  for (const file of stdout.split('\n').filter(Boolean)) {
    const check = await run('dpkg-deb', ['--field', file, 'Package', 'Version'], {allowFailure: true})
    const got = parseStanzas(check.stdout)[0]
    if (check.code === 0 && got?.Package === name && got.Version === version) return file
  }

  return undefined
}

const CONTROL_FILES = ['preinst', 'postinst', 'prerm', 'postrm', 'config', 'templates', 'triggers', 'shlibs', 'symbols', 'md5sums']
const DROPPED_FIELDS = new Set(['Status', 'Conffiles', 'Config-Version'])

/**
 * dpkg-repack's way: the package as dpkg installed it in a root — its files from the .list (a
 * diverted file from where the diversion put it), its maintainer scripts, its control fields.
 */
export function repackFromRoot(root: string, fields: Record<string, string>, tree: string): void {
  const name = fields.Package!
  const info = path.join(root, 'var/lib/dpkg/info')
  const base = [name, `${name}:${fields.Architecture ?? 'amd64'}`].find((b) => existsSync(path.join(info, `${b}.list`)))
  if (!base) throw new UsageError(`dpkg has no file list for ${name} in the image`)
  mkdirSync(path.join(tree, 'DEBIAN'), {recursive: true})
  const control = Object.fromEntries(Object.entries(fields).filter(([k]) => !DROPPED_FIELDS.has(k)))
  writeFileSync(path.join(tree, 'DEBIAN', 'control'), stanzaText(control))
  const conffiles = (fields.Conffiles ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((p): p is string => Boolean(p))
  if (conffiles.length > 0) writeFileSync(path.join(tree, 'DEBIAN', 'conffiles'), `${conffiles.join('\n')}\n`)
  for (const f of CONTROL_FILES) {
    const src = path.join(info, `${base}.${f}`)
    if (existsSync(src)) copyEntry(src, path.join(tree, 'DEBIAN', f))
  }

  const diverted = diversions(root, name)
  for (const p of readFileSync(path.join(info, `${base}.list`), 'utf8').split('\n')) {
    if (p === '' || p === '/.') continue
    const from = path.join(root, diverted.get(p) ?? p)
    if (!existsSync(from) && !isSymlink(from)) throw new UsageError(`${name}'s file ${p} is missing from the image`)
    copyEntry(from, path.join(tree, p))
  }
}

/** Paths of `pkg` that another package (or the admin) diverted: path → where the file is now. */
function diversions(root: string, pkg: string): Map<string, string> {
  const out = new Map<string, string>()
  let lines: string[]
  try {
    lines = readFileSync(path.join(root, 'var/lib/dpkg/diversions'), 'utf8').split('\n')
  } catch {
    return out
  }

  for (let i = 0; i + 2 < lines.length; i += 3) if (lines[i + 2] !== pkg) out.set(lines[i]!, lines[i + 1]!)
  return out
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

/** Copies one file, symlink or directory (not its contents) with its mode and owner. */
function copyEntry(from: string, to: string): void {
  const st = lstatSync(from)
  mkdirSync(path.dirname(to), {recursive: true})
  if (st.isDirectory()) mkdirSync(to, {recursive: true})
  else if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to)
  else copyFileSync(from, to)
  if (!st.isSymbolicLink()) {
    chownSync(to, st.uid, st.gid)
    chmodSync(to, st.mode & 0o7777)
  }
}

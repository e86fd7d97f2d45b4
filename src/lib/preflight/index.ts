/**
 * kp bootstrap's preflight checks, as plain functions: each returns a problem sentence (naming the
 * value, the rule and what to do) or undefined, or throws a UsageError for the CNI manifest. They
 * change nothing, so the workflow runs them all before any VM exists.
 */
export {type CniOptions, type KubernetesObject, loadCniManifest, parseManifest} from './cni.js'
export {checkEndpointInNetwork, checkEndpointResolves, endpointHost, type ResolveOptions} from './endpoint.js'
export {checkPackageVersions, type PackageCheckOptions, packageVersions, upstreamOf} from './packages.js'
export {type AddressProbe, type ProbeOptions, probeAddresses} from './probe.js'
export {checkKubernetesVersion, SUPPORTED_MINORS} from './version.js'

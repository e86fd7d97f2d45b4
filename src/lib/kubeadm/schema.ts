/**
 * The shapes kubeadm decodes its configuration documents into, written down from the Go types
 * (cmd/kubeadm/app/apis/kubeadm/v1beta3|v1beta4/types.go, k8s.io/kubelet/config/v1beta1,
 * k8s.io/kube-proxy/config/v1alpha1). Each struct carries its Go type name because kubeadm's
 * decoding errors print it ("Go struct field APIServer.apiServer.extraArgs of type []v1beta4.Arg").
 * `unchecked` marks a value kp does not model: it is accepted as it is, nothing inside it is checked.
 * README.md lists what is not modelled.
 */

export type Schema =
  | {kind: 'unchecked'}
  | {kind: 'bool'}
  /** metav1.Duration: a string Go's time.ParseDuration accepts. */
  | {kind: 'duration'}
  | {go: 'int32' | 'int64' | 'int'; kind: 'int'}
  | {go: string; items: Schema; kind: 'list'}
  | {go: string; kind: 'map'; values: Schema}
  | {go: string; kind: 'string'}
  | {fields: Record<string, Schema>; go: string; kind: 'struct'}
  /** bootstraptoken/v1 BootstrapTokenString, whose UnmarshalJSON checks the format while decoding. */
  | {kind: 'token'}

export type StructSchema = Extract<Schema, {kind: 'struct'}>
export type KubeadmVersion = 'v1beta3' | 'v1beta4'

export const KUBEADM_GROUP = 'kubeadm.k8s.io'
export const KUBELET_GROUP = 'kubelet.config.k8s.io'
export const KUBE_PROXY_GROUP = 'kubeproxy.config.k8s.io'

const unchecked: Schema = {kind: 'unchecked'}
const bool: Schema = {kind: 'bool'}
const duration: Schema = {kind: 'duration'}
const int32: Schema = {go: 'int32', kind: 'int'}
const str = (go = 'string'): Schema => ({go, kind: 'string'})
const strings: Schema = {go: '[]string', items: str(), kind: 'list'}
/** `go` is the package-qualified type name (v1beta4.Networking); fields' errors use its last part. */
const struct = (go: string, fields: Record<string, Schema>): StructSchema => ({fields, go, kind: 'struct'})
const list = (go: string, items: Schema): Schema => ({go, items, kind: 'list'})
const typeMeta = {apiVersion: str(), kind: str()}

/** v1beta4 turned every string map of flags into a list of {name, value} that allows duplicates. */
function extraArgs(v: KubeadmVersion): Schema {
  return v === 'v1beta4'
    ? list('[]v1beta4.Arg', struct('v1beta4.Arg', {name: str(), value: str()}))
    : {go: 'map[string]string', kind: 'map', values: str()}
}

const extraEnvs = list('[]v1beta4.EnvVar', struct('v1beta4.EnvVar', {name: str(), value: str(), valueFrom: unchecked}))

function componentFields(v: KubeadmVersion): Record<string, Schema> {
  const hostPathMount = struct(`${v}.HostPathMount`, {hostPath: str(), mountPath: str(), name: str(), pathType: str('v1.HostPathType'), readOnly: bool})
  return {
    extraArgs: extraArgs(v),
    extraVolumes: list(`[]${v}.HostPathMount`, hostPathMount),
    ...(v === 'v1beta4' ? {extraEnvs} : {}),
  }
}

function nodeRegistration(v: KubeadmVersion): StructSchema {
  const taint = struct('v1.Taint', {effect: str('v1.TaintEffect'), key: str(), timeAdded: unchecked, value: str()})
  return struct(`${v}.NodeRegistrationOptions`, {
    criSocket: str(),
    ignorePreflightErrors: strings,
    imagePullPolicy: str('v1.PullPolicy'),
    ...(v === 'v1beta4' ? {imagePullSerial: bool} : {}),
    kubeletExtraArgs: extraArgs(v),
    name: str(),
    taints: list('[]v1.Taint', taint),
  })
}

const apiEndpoint = (v: KubeadmVersion) => struct(`${v}.APIEndpoint`, {advertiseAddress: str(), bindPort: int32})
const patches = (v: KubeadmVersion) => struct(`${v}.Patches`, {directory: str()})

function timeouts(): StructSchema {
  const names = ['controlPlaneComponentHealthCheck', 'discovery', 'etcdAPICall', 'kubeletHealthCheck', 'kubernetesAPICall', 'tlsBootstrap', 'upgradeManifests']
  return struct('v1beta4.Timeouts', Object.fromEntries(names.map((n) => [n, duration])))
}

function initConfiguration(v: KubeadmVersion): StructSchema {
  const bootstrapToken = struct('v1.BootstrapToken', {description: str(), expires: unchecked, groups: strings, token: {kind: 'token'}, ttl: duration, usages: strings})
  return struct(`${v}.InitConfiguration`, {
    ...typeMeta,
    bootstrapTokens: list('[]v1.BootstrapToken', bootstrapToken),
    certificateKey: str(),
    ...(v === 'v1beta4' ? {dryRun: bool, timeouts: timeouts()} : {}),
    localAPIEndpoint: apiEndpoint(v),
    nodeRegistration: nodeRegistration(v),
    patches: patches(v),
    skipPhases: strings,
  })
}

function clusterConfiguration(v: KubeadmVersion): StructSchema {
  const imageMeta = {imageRepository: str(), imageTag: str()}
  const localEtcd = struct(`${v}.LocalEtcd`, {
    ...imageMeta,
    dataDir: str(),
    extraArgs: extraArgs(v),
    ...(v === 'v1beta4' ? {extraEnvs} : {}),
    peerCertSANs: strings,
    serverCertSANs: strings,
  })
  const externalEtcd = struct(`${v}.ExternalEtcd`, {caFile: str(), certFile: str(), endpoints: strings, ...(v === 'v1beta4' ? {httpEndpoints: strings} : {}), keyFile: str()})
  const component = struct(`${v}.ControlPlaneComponent`, componentFields(v))
  const v4 = v === 'v1beta4'
  return struct(`${v}.ClusterConfiguration`, {
    ...typeMeta,
    apiServer: struct(`${v}.APIServer`, {...componentFields(v), certSANs: strings, ...(v4 ? {} : {timeoutForControlPlane: duration})}),
    ...(v4 ? {caCertificateValidityPeriod: duration, certificateValidityPeriod: duration} : {}),
    certificatesDir: str(),
    clusterName: str(),
    controllerManager: component,
    controlPlaneEndpoint: str(),
    dns: struct(`${v}.DNS`, {...imageMeta, ...(v4 ? {disabled: bool} : {})}),
    ...(v4 ? {encryptionAlgorithm: str('v1beta4.EncryptionAlgorithmType')} : {}),
    etcd: struct(`${v}.Etcd`, {external: externalEtcd, local: localEtcd}),
    featureGates: {go: 'map[string]bool', kind: 'map', values: bool},
    imageRepository: str(),
    kubernetesVersion: str(),
    networking: struct(`${v}.Networking`, {dnsDomain: str(), podSubnet: str(), serviceSubnet: str()}),
    ...(v4 ? {proxy: struct('v1beta4.Proxy', {disabled: bool})} : {}),
    scheduler: component,
  })
}

function joinConfiguration(v: KubeadmVersion): StructSchema {
  const bootstrapTokenDiscovery = struct(`${v}.BootstrapTokenDiscovery`, {apiServerEndpoint: str(), caCertHashes: strings, token: str(), unsafeSkipCAVerification: bool})
  const discovery = struct(`${v}.Discovery`, {
    bootstrapToken: bootstrapTokenDiscovery,
    file: struct(`${v}.FileDiscovery`, {kubeConfigPath: str()}),
    ...(v === 'v1beta3' ? {timeout: duration} : {}),
    tlsBootstrapToken: str(),
  })
  return struct(`${v}.JoinConfiguration`, {
    ...typeMeta,
    caCertPath: str(),
    controlPlane: struct(`${v}.JoinControlPlane`, {certificateKey: str(), localAPIEndpoint: apiEndpoint(v)}),
    discovery,
    ...(v === 'v1beta4' ? {dryRun: bool, timeouts: timeouts()} : {}),
    nodeRegistration: nodeRegistration(v),
    patches: patches(v),
    skipPhases: strings,
  })
}

const resetConfiguration = struct('v1beta4.ResetConfiguration', {
  ...typeMeta,
  certificatesDir: str(),
  cleanupTmpDir: bool,
  criSocket: str(),
  dryRun: bool,
  force: bool,
  ignorePreflightErrors: strings,
  skipPhases: strings,
  timeouts: timeouts(),
  unmountFlags: strings,
})

// Its per-subcommand blocks changed within v1beta4's lifetime; only their names are checked.
const upgradeConfiguration = struct('v1beta4.UpgradeConfiguration', {...typeMeta, apply: unchecked, diff: unchecked, node: unchecked, plan: unchecked, timeouts: timeouts()})

/** The kubelet's own fields are the kubelet's business; kubeadm only rejects names it does not know. */
const KUBELET_FIELDS = `enableServer staticPodPath podLogsDir syncFrequency fileCheckFrequency httpCheckFrequency staticPodURL
  staticPodURLHeader address port readOnlyPort tlsCertFile tlsPrivateKeyFile tlsCipherSuites tlsCurvePreferences tlsMinVersion
  rotateCertificates serverTLSBootstrap authentication authorization registryPullQPS registryBurst
  imagePullCredentialsVerificationPolicy preloadedImagesVerificationAllowlist eventRecordQPS eventBurst enableDebuggingHandlers
  enableContentionProfiling healthzPort healthzBindAddress oomScoreAdj clusterDomain clusterDNS streamingConnectionIdleTimeout
  nodeStatusUpdateFrequency nodeStatusReportFrequency nodeLeaseDurationSeconds imageMinimumGCAge imageMaximumGCAge
  imageGCHighThresholdPercent imageGCLowThresholdPercent volumeStatsAggPeriod kubeletCgroups systemCgroups cgroupRoot cgroupsPerQOS
  cgroupDriver cpuManagerPolicy singleProcessOOMKill cpuManagerPolicyOptions cpuManagerReconcilePeriod draManagerReconcilePeriod
  memoryManagerPolicy topologyManagerPolicy topologyManagerScope topologyManagerPolicyOptions qosReserved runtimeRequestTimeout
  hairpinMode maxPods podCIDR podPidsLimit resolvConf runOnce cpuCFSQuota cpuCFSQuotaPeriod nodeStatusMaxImages maxOpenFiles
  contentType kubeAPIQPS kubeAPIBurst serializeImagePulls maxParallelImagePulls evictionHard evictionSoft evictionSoftGracePeriod
  evictionPressureTransitionPeriod evictionMaxPodGracePeriod evictionMinimumReclaim mergeDefaultEvictionSettings podsPerCore
  enableControllerAttachDetach protectKernelDefaults makeIPTablesUtilChains iptablesMasqueradeBit iptablesDropBit featureGates
  failSwapOn memorySwap containerLogMaxSize containerLogMaxFiles containerLogMaxWorkers containerLogMonitorInterval
  configMapAndSecretChangeDetectionStrategy systemReserved kubeReserved reservedSystemCPUs showHiddenMetricsForVersion
  systemReservedCgroup kubeReservedCgroup enforceNodeAllocatable allowedUnsafeSysctls volumePluginDir providerID
  kernelMemcgNotification logging enableSystemLogHandler enableSystemLogQuery shutdownGracePeriod shutdownGracePeriodCriticalPods
  shutdownGracePeriodByPodPriority crashLoopBackOff reservedMemory enableProfilingHandler enableDebugFlagsHandler seccompDefault
  memoryThrottlingFactor memoryReservationPolicy registerWithTaints registerNode tracing localStorageCapacityIsolation
  containerRuntimeEndpoint imageServiceEndpoint failCgroupV1 userNamespaces`

const KUBE_PROXY_FIELDS = `featureGates clientConnection logging hostnameOverride bindAddress healthzBindAddress metricsBindAddress
  bindAddressHardFail enableProfiling showHiddenMetricsForVersion mode iptables ipvs nftables winkernel detectLocalMode detectLocal
  clusterCIDR nodePortAddresses oomScoreAdj conntrack configSyncPeriod portRange windowsRunAsService`

function component(go: string, names: string, typed: Record<string, Schema>): StructSchema {
  return struct(go, {...typeMeta, ...Object.fromEntries(names.split(/\s+/).filter(Boolean).map((n) => [n, unchecked])), ...typed})
}

const kubeletConfiguration = component('v1beta1.KubeletConfiguration', KUBELET_FIELDS, {cgroupDriver: str(), containerRuntimeEndpoint: str(), failSwapOn: bool})
const kubeProxyConfiguration = component('v1alpha1.KubeProxyConfiguration', KUBE_PROXY_FIELDS, {clusterCIDR: str(), mode: str('v1alpha1.ProxyMode')})

/** Every apiVersion/kind pair kubeadm decodes, by "group/version" then kind. */
export const KNOWN_TYPES: Record<string, Record<string, StructSchema>> = {
  [`${KUBEADM_GROUP}/v1beta3`]: {
    ClusterConfiguration: clusterConfiguration('v1beta3'),
    InitConfiguration: initConfiguration('v1beta3'),
    JoinConfiguration: joinConfiguration('v1beta3'),
  },
  [`${KUBEADM_GROUP}/v1beta4`]: {
    ClusterConfiguration: clusterConfiguration('v1beta4'),
    InitConfiguration: initConfiguration('v1beta4'),
    JoinConfiguration: joinConfiguration('v1beta4'),
    ResetConfiguration: resetConfiguration,
    UpgradeConfiguration: upgradeConfiguration,
  },
  [`${KUBELET_GROUP}/v1beta1`]: {KubeletConfiguration: kubeletConfiguration},
  [`${KUBE_PROXY_GROUP}/v1alpha1`]: {KubeProxyConfiguration: kubeProxyConfiguration},
}

/** The component config groups kubeadm handles, with the one version each accepts. */
export const COMPONENT_GROUPS: Record<string, string> = {[KUBELET_GROUP]: 'v1beta1', [KUBE_PROXY_GROUP]: 'v1alpha1'}

/** Removed kubeadm API versions and the kubeadm release that can still migrate them (validateSupportedVersion). */
export const OLD_KUBEADM_VERSIONS: Record<string, string> = {
  v1alpha1: 'v1.11',
  v1alpha2: 'v1.12',
  v1alpha3: 'v1.14',
  v1beta1: 'v1.15',
  v1beta2: 'v1.22',
}

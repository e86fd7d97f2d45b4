/**
 * kubeadm's error wording, reproduced so that the lab's simulated `kubeadm` fails the way the real
 * one does and kp's preflight names a problem in the words the operator will later search for.
 * Each builder cites the Go code it imitates; the formats (`%#v` of a GroupVersionKind, field.Error,
 * errors.Aggregate) come from k8s.io/apimachinery.
 */

export interface Gvk {
  group: string
  kind: string
  version: string
}

/** Go's `%q` for the strings that occur in configs (JSON escaping agrees with Go for them). */
export function goQuote(text: string): string {
  return JSON.stringify(text)
}

/** `%#v` of a schema.GroupVersionKind, as kubeadm prints it in strict-decoding errors. */
export function gvkGoSyntax(gvk: Gvk): string {
  return `schema.GroupVersionKind{Group:${goQuote(gvk.group)}, Version:${goQuote(gvk.version)}, Kind:${goQuote(gvk.kind)}}`
}

/** GroupVersionKind.String(): `kubeadm.k8s.io/v1beta4, Kind=InitConfiguration`, `/, Kind=` when empty. */
export function gvkString(gvk: Gvk): string {
  return `${gvk.group}/${gvk.version}, Kind=${gvk.kind}`
}

export function groupVersion(gvk: Pick<Gvk, 'group' | 'version'>): string {
  return gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`
}

/** errors.NewAggregate(...).Error(): one message as is, several deduplicated inside `[a, b]`. */
export function aggregate(messages: readonly string[]): string {
  const unique = [...new Set(messages)]
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`
}

/** A value as field.Error prints it: strings with %q, numbers and bools bare, []string with %#v. */
export function fieldValue(value: unknown): string {
  if (typeof value === 'string') return goQuote(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[]string{${value.map((v) => goQuote(String(v))).join(', ')}}`
  return 'null'
}

/** field.Invalid(path, value, detail).Error() */
export function invalidField(path: string, value: unknown, detail: string): string {
  return `${path}: Invalid value: ${fieldValue(value)}: ${detail}`
}

/** field.Required(path, detail).Error() */
export function requiredField(path: string, detail: string): string {
  return `${path}: Required value: ${detail}`
}

// cmd/kubeadm/app/util/marshal.go SplitYAMLDocuments
export const missingTypeMeta = (gvk: Gvk) =>
  `invalid configuration for GroupVersionKind ${gvkString(gvk)}: kind and apiVersion is mandatory information that must be specified`
export const kindTwice = (kind: string) => `invalid configuration: kind ${goQuote(kind)} is specified twice in YAML file`

// k8s.io/apimachinery/pkg/util/yaml YAMLReader.Read
export const badSeparator = (rest: string) => `invalid Yaml document separator: ${rest}`

// k8s.io/apimachinery/pkg/runtime/schema ParseGroupVersion
export const badGroupVersion = (apiVersion: string) => `unexpected GroupVersion string: ${apiVersion}`

// cmd/kubeadm/app/util/config/common.go validateSupportedVersion
export const oldApi = (gvk: Gvk, useKubeadm: string) =>
  `your configuration file uses an old API spec: ${goQuote(groupVersion(gvk))} (kind: ${goQuote(gvk.kind)}). Please use kubeadm ${useKubeadm} instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`
export const deprecatedApi = (gvk: Gvk) =>
  `your configuration file uses a deprecated API spec: ${goQuote(groupVersion(gvk))} (kind: ${goQuote(gvk.kind)}). Please use 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`
export const experimentalApi = (gvk: Gvk) =>
  `experimental API spec: ${goQuote(groupVersion(gvk))} (kind: ${goQuote(gvk.kind)}) is not allowed. You can use the --allow-experimental-api flag if the command supports it.`

// common.go validateKnownGVKs (kubeadm config validate)
export const unknownApis = (gvks: readonly Gvk[]) => `unknown configuration APIs: []schema.GroupVersionKind{${gvks.map(gvkGoSyntax).join(', ')}}`

// initconfiguration.go documentMapToInitConfiguration
export const ignoredDocument = (gvk: Gvk) => `[config] WARNING: Ignored configuration document with GroupVersionKind ${gvkString(gvk)}`
export const noInitOrCluster = 'no InitConfiguration or ClusterConfiguration kind was found in the configuration file'
// joinconfiguration.go documentMapToJoinConfiguration
export const noJoin = 'no JoinConfiguration found in the supplied config'

// k8s.io/apimachinery/pkg/runtime notRegisteredErr, for a kubeadm kind under a version kubeadm lacks
export const notRegistered = (gvk: Gvk) =>
  `no kind ${goQuote(gvk.kind)} is registered for version ${goQuote(groupVersion(gvk))} in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`
// componentconfigs/configset.go handler.Unmarshal
export const unexpectedComponentVersion = (gvk: Gvk, want: string) =>
  `unexpected apiVersion ${goQuote(groupVersion(gvk))}, you may have to do manual conversion to ${goQuote(want)} and execute kubeadm again`

// util/config/strict VerifyUnmarshalStrict: the wrapper around every decoding problem
export const unmarshaling = (gvk: Gvk, cause: string) => `error unmarshaling configuration ${gvkGoSyntax(gvk)}: ${cause}`
// k8s.io/apimachinery/pkg/runtime strictDecodingError
export const strictDecoding = (errors: readonly string[]) => `strict decoding error: ${errors.join(', ')}`
// sigs.k8s.io/json strict errors; the path is dotted with [i] for list items
export const unknownField = (path: string) => `unknown field ${goQuote(path)}`
// sigs.k8s.io/yaml YAMLToJSONStrict over go-yaml v2
export const duplicateKeys = (lines: readonly {key: string; line: number}[]) =>
  `error converting YAML to JSON: yaml: unmarshal errors:\n${lines.map((d) => `  line ${d.line}: key ${goQuote(d.key)} already set in map`).join('\n')}`
export const yamlSyntax = (line: number, detail: string) => `error converting YAML to JSON: yaml: line ${line}: ${detail}`
// encoding/json UnmarshalTypeError with the field path Go 1.20+ reports
export const wrongType = (jsonKind: string, goStruct: string, path: string, goType: string) =>
  `json: cannot unmarshal ${jsonKind} into Go struct field ${goStruct}.${path} of type ${goType}`
// apimachinery/pkg/runtime/serializer/json SimpleMetaFactory.Interpret on a document that is not a mapping
export const notAnObject = (jsonKind: string) =>
  `couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonKind} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`
// metav1.Duration.UnmarshalJSON
export const durationNotString = (jsonKind: string) => `json: cannot unmarshal ${jsonKind} into Go value of type string`
export const badDuration = (text: string) => `time: invalid duration ${goQuote(text)}`
// bootstraptoken/v1 NewBootstrapTokenString (BootstrapTokenString.UnmarshalJSON)
export const tokenNotOfForm = (token: string) =>
  `the bootstrap token ${goQuote(token)} was not of the form ${goQuote('\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z')}`

// util/config/common.go NormalizeKubernetesVersion and util/version.go KubernetesReleaseVersion
export const badKubernetesVersion = (version: string) =>
  `version ${goQuote(version)} doesn't match patterns for neither semantic version nor labels (stable, latest, ...)`
export const controlPlaneTooOld = (minimum: string, version: string) =>
  `this version of kubeadm only supports deploying clusters with the control plane version >= ${minimum}. Current version: ${version}`
// util/config SetAPIEndpointDynamicDefaults
export const badAdvertiseAddress = (address: string) =>
  `couldn't use "${address}" as "apiserver-advertise-address", must be ipv4 or ipv6 address`
// join's discovery: cluster-bootstrap pubkeypin.Set.Allow, wrapped by discovery/token
export const caHashPrefix = 'invalid discovery token CA certificate hash'

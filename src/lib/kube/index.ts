/** The Kubernetes adapter: the only code that touches @kubernetes/client-node (loaded lazily). */
export {defaultKubeconfigPath, kubeconfigOf, kubeFromConfig} from './from-config.js'
export {isNotFound, KubeApiError, type KubeStatus} from './errors.js'
export type * from './types.js'

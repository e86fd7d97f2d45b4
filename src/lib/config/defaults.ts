/** Defaults shared by the schema, `kp config init` and its flags; kept free of heavy imports. */
export const DEFAULT_API_PORT = 6443
export const DEFAULT_KUBERNETES_REPO_BASE = 'https://pkgs.k8s.io/core:/stable:'
/** Flannel's manifest; its default pod network is 10.244.0.0/16, the podSubnet default. */
export const DEFAULT_CNI_MANIFEST = 'https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml'
export const DEFAULT_TOKEN_SECRET_ENV = 'PVE_TOKEN_SECRET'
export const SECRET_SOURCE_HELP = '{env: VAR}, {file: path} or {command: "pass show pve/kp"}'
export const SCHEMA_FILE_NAME = 'kp.schema.json'

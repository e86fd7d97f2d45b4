declare module 'parse-prometheus-text-format' {
  export interface PrometheusSample {
    labels?: Record<string, string>
    value?: string
  }

  export interface PrometheusFamily {
    help: string
    metrics: PrometheusSample[]
    name: string
    type: string
  }

  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[]
}

{{/* Names and labels shared by every template. */}}
{{- define "mlrollout.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mlrollout.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: mlrollout
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "mlrollout.operator.selector" -}}
app.kubernetes.io/name: mlrollout-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mlrollout.mlflow.selector" -}}
app.kubernetes.io/name: mlrollout-mlflow
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mlrollout.image" -}}
{{- if not .image.tag -}}
{{- fail (printf "%s.image.tag is required (never latest): `make images` prints the tag it built" .key) -}}
{{- end -}}
{{- printf "%s:%s" .image.repository .image.tag -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container the chart makes. */}}
{{- define "mlrollout.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "mlrollout.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* What the operator does, and nothing more: the rules of its (Cluster)Role. */}}
{{- define "mlrollout.operator.rules" -}}
- apiGroups: [mlrollout.dev]
  resources: [modelpromotions]
  verbs: [get, list, watch, patch, update]
- apiGroups: [mlrollout.dev]
  resources: [modelpromotions/status]
  verbs: [get, patch, update]
# Owner references with blockOwnerDeletion, where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [mlrollout.dev]
  resources: [modelpromotions/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- with .Values.operator.mlflowCredentialSecrets }}
- apiGroups: [""]
  resources: [secrets]
  resourceNames: {{ toJson . }}
  verbs: [get]
{{- end }}
{{- end -}}

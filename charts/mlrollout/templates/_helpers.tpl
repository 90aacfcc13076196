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

{{- define "mlrollout.postgresql.selector" -}}
app.kubernetes.io/name: mlrollout-postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A generated secret value (base64) that survives `helm upgrade`: the one already in the
Secret `.name` under `.key` if there is one, else a new random one. */}}
{{- define "mlrollout.generatedSecret" -}}
{{- $found := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- if and $found $found.data (hasKey $found.data .key) -}}
{{- index $found.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the PostgreSQL password (key `password`). */}}
{{- define "mlrollout.postgresql.secret" -}}
{{- .Values.postgresql.existingSecret | default (printf "%s-postgresql" (include "mlrollout.fullname" .)) -}}
{{- end -}}

{{/* The Secret holding the MLflow admin's `username` and `password`. */}}
{{- define "mlrollout.mlflow.adminSecret" -}}
{{- .Values.mlflow.auth.adminSecret | default (printf "%s-mlflow-auth" (include "mlrollout.fullname" .)) -}}
{{- end -}}

{{/* MLflow's database URIs (the server and its db-upgrade init container read the same). */}}
{{- define "mlrollout.mlflow.databaseEnv" -}}
{{- $pg := printf "%s-postgresql" (include "mlrollout.fullname" .) -}}
{{- if .Values.postgresql.enabled }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "mlrollout.postgresql.secret" . }}, key: password}
- {name: BACKEND_STORE_URI, value: "postgresql+psycopg2://mlflow:$(DB_PASSWORD)@{{ $pg }}:5432/mlflow"}
{{- else if .Values.mlflow.backendStoreUriSecret.name }}
- name: BACKEND_STORE_URI
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.backendStoreUriSecret.name }}
      key: {{ .Values.mlflow.backendStoreUriSecret.key | default "uri" }}
{{- else }}
- {name: BACKEND_STORE_URI, value: {{ .Values.mlflow.backendStoreUri | default "sqlite:////data/mlflow.db" | quote }}}
{{- end }}
{{- if and .Values.mlflow.auth.enabled .Values.postgresql.enabled }}
- {name: AUTH_DATABASE_URI, value: "postgresql+psycopg2://mlflow:$(DB_PASSWORD)@{{ $pg }}:5432/mlflow_auth"}
{{- else if .Values.mlflow.auth.enabled }}
- {name: AUTH_DATABASE_URI, value: "sqlite:////data/basic_auth.db"}
{{- end }}
{{- end -}}

{{/* The release's name for its objects: RELEASE-iscd, or RELEASE if it says iscd already. */}}
{{- define "iscd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "iscd.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels: "iscd.selector" (dict "ctx" . "component" "server") */}}
{{- define "iscd.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* What every container of the chart runs with: no privilege, read-only root. */}}
{{- define "iscd.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "iscd.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* iscd's address inside the cluster, for workers. */}}
{{- define "iscd.serverURL" -}}
{{- if .Values.workers.server -}}
{{- .Values.workers.server -}}
{{- else -}}
{{- printf "http://%s:%d" (include "iscd.fullname" .) (int .Values.iscd.port) -}}
{{- end -}}
{{- end -}}

{{/* The database's URL: database.url, else the trial PostgreSQL's. */}}
{{- define "iscd.databaseURL" -}}
{{- if .Values.database.url -}}
{{- .Values.database.url -}}
{{- else if .Values.postgresql.enabled -}}
{{- printf "postgres://iscd@%s-postgresql:%d/iscd?sslmode=disable" (include "iscd.fullname" .) (int .Values.postgresql.port) -}}
{{- else -}}
{{- fail "database.url is required (or postgresql.enabled for a trial)" -}}
{{- end -}}
{{- end -}}

{{/* The object store's URL: objectStore.url, else the trial versitygw's. */}}
{{- define "iscd.objectStoreURL" -}}
{{- if .Values.objectStore.url -}}
{{- .Values.objectStore.url -}}
{{- else if .Values.versitygw.enabled -}}
{{- printf "s3://%s?endpoint=http://%s-versitygw:%d&region=us-east-1" .Values.versitygw.bucket (include "iscd.fullname" .) (int .Values.versitygw.port) -}}
{{- else -}}
{{- fail "objectStore.url is required (or versitygw.enabled for a trial)" -}}
{{- end -}}
{{- end -}}

{{/* The store's URL for serve and the migration Job: from a Secret when
database.urlSecret names one, else database.url (it holds no password). */}}
{{- define "iscd.storeEnv" -}}
- name: ISCD_DB
{{- if .Values.database.urlSecret.name }}
  valueFrom:
    secretKeyRef: {name: {{ .Values.database.urlSecret.name }}, key: {{ .Values.database.urlSecret.key }}}
{{- else }}
  value: {{ include "iscd.databaseURL" . | quote }}
{{- end }}
{{- end -}}

{{- define "iscd.dbPasswordVolume" -}}
- name: db-password
  secret:
    secretName: {{ .Values.database.passwordSecret.name }}
    defaultMode: 0400
    items:
      - {key: {{ .Values.database.passwordSecret.key }}, path: password}
{{- end -}}

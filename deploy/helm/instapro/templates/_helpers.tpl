{{/*
Names and labels shared by every template of this chart.
*/}}

{{- define "instapro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified release name. A release called "instapro" yields "instapro" rather than
"instapro-instapro", so the object names documented in deploy/README.md stay short.
*/}}
{{- define "instapro.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "instapro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that identify the objects of one release; used as selectors, so they never change. */}}
{{- define "instapro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "instapro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Standard Kubernetes recommended labels, put on every object. */}}
{{- define "instapro.labels" -}}
helm.sh/chart: {{ include "instapro.chart" . }}
{{ include "instapro.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: instapro
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Name of the ConfigMap with the non-secret INSTAPRO_* settings. */}}
{{- define "instapro.settingsConfigMapName" -}}
{{- printf "%s-settings" (include "instapro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the ConfigMap with the AIRFLOW_VAR_* variables the DAGs read at run time. */}}
{{- define "instapro.airflowConfigMapName" -}}
{{- printf "%s-airflow" (include "instapro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the Secret with the credentials: the one you created, or the one this chart makes. */}}
{{- define "instapro.credentialsSecretName" -}}
{{- if .Values.credentials.existingSecret -}}
{{- .Values.credentials.existingSecret -}}
{{- else -}}
{{- printf "%s-database-credentials" (include "instapro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Service account the pipeline pods run as; it has no Role bound and mounts no token. */}}
{{- define "instapro.pipelineServiceAccountName" -}}
{{- if .Values.pipelineServiceAccount.create -}}
{{- default (printf "%s-pipeline" (include "instapro.fullname" .)) .Values.pipelineServiceAccount.name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- default "default" .Values.pipelineServiceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "instapro.warehouseName" -}}
{{- printf "%s-warehouse" (include "instapro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "instapro.warehouseSelectorLabels" -}}
{{ include "instapro.selectorLabels" . }}
app.kubernetes.io/component: warehouse
{{- end -}}

{{/*
Database host written to INSTAPRO_DB_HOST: an explicit settings.database.host wins; otherwise the
in-cluster warehouse when it is enabled; otherwise empty, which makes the CLI fall back to its
embedded database (useful only for a smoke test).
*/}}
{{- define "instapro.databaseHost" -}}
{{- if .Values.settings.database.host -}}
{{- .Values.settings.database.host -}}
{{- else if .Values.warehouse.enabled -}}
{{- printf "%s.%s.svc" (include "instapro.warehouseName" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/*
The database password stored in the generated Secret. Nothing is committed: a value given at
install time wins; otherwise the password already in the cluster is kept (so upgrades do not
lock the warehouse out of its own data); otherwise a random one is generated.
*/}}
{{- define "instapro.databasePassword" -}}
{{- if .Values.credentials.password -}}
{{- .Values.credentials.password -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "instapro.credentialsSecretName" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "INSTAPRO_DB_PASSWORD") -}}
{{- index $existing.data "INSTAPRO_DB_PASSWORD" | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "instapro.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

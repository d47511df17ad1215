{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "ocpi-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's resources, at most 63 characters. */}}
{{- define "ocpi-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selector labels: stable across upgrades, so no chart version here. */}}
{{- define "ocpi-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocpi-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ocpi-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ocpi-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ocpi-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ocpi-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ocpi-hub.secretName" -}}
{{- default (include "ocpi-hub.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "ocpi-hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "ocpi-hub.publicUrl" -}}
{{- if .Values.hub.publicUrl }}
{{- .Values.hub.publicUrl }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- else }}
{{- printf "http://%s.%s.svc" (include "ocpi-hub.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Environment shared by the hub container and the migration init container. */}}
{{- define "ocpi-hub.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "ocpi-hub.fullname" . }}
  - secretRef:
      name: {{ include "ocpi-hub.secretName" . }}
{{- end }}

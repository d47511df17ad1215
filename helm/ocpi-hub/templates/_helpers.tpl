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

{{/* Labels of the release's other pods (helm test, migration Job): without app.kubernetes.io/name, so that
they never match the Deployment's selector (its ReplicaSet would adopt a bare pod that does), the PDB or the
topology spread. Call with (list $ "component"). */}}
{{- define "ocpi-hub.auxLabels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: {{ include "ocpi-hub.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
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

{{/* No image is published: the operator builds and pushes one and names it here. */}}
{{- define "ocpi-hub.image" -}}
{{- $repository := required "image.repository is required: no ocpi-hub image is published. Build one from the repository's Dockerfile, push it to your registry and set image.repository (README, Deploying)" .Values.image.repository }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
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
  {{- with .Values.envFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.env }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Mounts shared by the hub container and the migration init container: /tmp (the only writable path)
and the operator's extra volumes (CA bundles). */}}
{{- define "ocpi-hub.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* Replicas on different nodes (hard, while there are enough nodes) and zones (soft). */}}
{{- define "ocpi-hub.topologySpread" -}}
{{- if .Values.topologySpreadConstraints }}
{{- toYaml .Values.topologySpreadConstraints }}
{{- else }}
{{- if .Values.spread.nodes }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: DoNotSchedule
  labelSelector:
    matchLabels:
      {{- include "ocpi-hub.selectorLabels" . | nindent 6 }}
{{- end }}
{{- if .Values.spread.zones }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "ocpi-hub.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}

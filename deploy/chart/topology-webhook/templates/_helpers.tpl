{{/*
Names. The default release name "topology-webhook" gives the same object names
as deploy/ (kustomize); another release name gives "<release>-topology-webhook".
*/}}
{{- define "topology-webhook.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels Helm adds to every object; the parity test with deploy/ drops exactly these. */}}
{{- define "topology-webhook.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
{{- end -}}

{{- define "topology-webhook.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
{{ include "topology-webhook.helmLabels" . }}
{{- end -}}

{{/* Pods of the manager Deployment: Deployment, PDB, Service, spread and NetworkPolicy select these. */}}
{{- define "topology-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/component: manager
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "topology-webhook.managerLabels" -}}
{{ include "topology-webhook.labels" . }}
app.kubernetes.io/component: manager
{{- end -}}

{{- define "topology-webhook.serviceAccountName" -}}
{{ include "topology-webhook.fullname" . }}
{{- end -}}

{{- define "topology-webhook.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/* The Secret the self-provisioned CA and certificate live in (the server's default name). */}}
{{- define "topology-webhook.tlsSecretName" -}}
{{ include "topology-webhook.fullname" . }}-tls
{{- end -}}

{{/* The Secret the server reads its certificate from when it does not provision one itself. */}}
{{- define "topology-webhook.servingSecretName" -}}
{{- if eq .Values.certificate.mode "cert-manager" -}}
{{ include "topology-webhook.fullname" . }}-serving-cert
{{- else -}}
{{ required "certificate.existingSecret.name is required with certificate.mode=existing-secret" .Values.certificate.existingSecret.name }}
{{- end -}}
{{- end -}}

{{- define "topology-webhook.selfProvisioned" -}}
{{- if eq .Values.certificate.mode "self-provisioned" }}true{{ end -}}
{{- end -}}

{{/*
The webhook's clientConfig: the Service, or (webhook.url, for a server running
outside the cluster, as the chart's own end-to-end test does) a URL.
*/}}
{{- define "topology-webhook.clientConfig" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
clientConfig:
  {{- if $root.Values.webhook.url }}
  url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path }}
  {{- else }}
  service:
    name: {{ include "topology-webhook.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ $path }}
    port: 443
  {{- end }}
  {{- if eq $root.Values.certificate.mode "existing-secret" }}
  caBundle: {{ required "certificate.existingSecret.caBundle (base64 of the PEM CA that signed the Secret's certificate) is required with certificate.mode=existing-secret" $root.Values.certificate.existingSecret.caBundle }}
  {{- end }}
{{- end -}}

{{/* Settings shared by both webhooks. */}}
{{- define "topology-webhook.webhookCommon" -}}
{{- if and (eq .Values.webhook.failurePolicy "Ignore") (not .Values.webhook.acknowledgeFailOpen) -}}
{{- fail "webhook.failurePolicy=Ignore lets TopologyConfigs that break the rules in while the webhook is down; set webhook.acknowledgeFailOpen=true to accept that" -}}
{{- end -}}
admissionReviewVersions: ['v1']
sideEffects: None
failurePolicy: {{ .Values.webhook.failurePolicy }}
matchPolicy: Equivalent
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
{{- with .Values.webhook.namespaceSelector }}
namespaceSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* caBundle annotation for cert-manager's CA injector. */}}
{{- define "topology-webhook.webhookAnnotations" -}}
{{- if eq .Values.certificate.mode "cert-manager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "topology-webhook.fullname" . }}-serving-cert
{{- end }}
{{- end -}}

{{/*
Target Secret namespaces and the names in each ("*" for any), from
policy.allowedTargetSecrets, as JSON: {"ns": ["name", ...]}.
*/}}
{{- define "topology-webhook.targetNamespaces" -}}
{{- $byNamespace := dict -}}
{{- range .Values.policy.allowedTargetSecrets -}}
{{- $parts := splitList "/" . -}}
{{- if ne (len $parts) 2 -}}
{{- fail (printf "policy.allowedTargetSecrets: %q is not of the form namespace/name or namespace/*" .) -}}
{{- end -}}
{{- $ns := index $parts 0 -}}
{{- $names := get $byNamespace $ns | default list -}}
{{- $_ := set $byNamespace $ns (append $names (index $parts 1)) -}}
{{- end -}}
{{- toJson $byNamespace -}}
{{- end -}}

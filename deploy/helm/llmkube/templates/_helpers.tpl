{{/*
Names are fixed ("llmkube-..."), not derived from the release name: the CRDs and ClusterRoles are cluster-wide,
so one installation per cluster is what the operator supports, and fixed names keep the chart's objects equal to
config/default's.
*/}}

{{/* Labels every object carries: config/default's part-of label plus Helm's release labels. */}}
{{- define "llmkube.labels" -}}
app.kubernetes.io/part-of: llmkube
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The selector of a component's pods (immutable once a Deployment exists: no release labels here). */}}
{{- define "llmkube.selectorLabels" -}}
app.kubernetes.io/name: llmkube
app.kubernetes.io/component: {{ . }}
{{- end }}

{{- define "llmkube.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* k=v,k=v in key order, as the controller's selector flags take them. */}}
{{- define "llmkube.selectorFlag" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end }}

{{/* The controller's command-line flags; a value left empty keeps the program's own default. */}}
{{- define "llmkube.controllerArgs" -}}
{{- $c := .Values.controller -}}
{{- if $c.leaderElection.enabled }}
- --leader-elect
{{- end }}
- --bind-address=:{{ $c.metricsPort }}
{{- with $c.leaderElection.namespace }}
- {{ printf "--leader-election-namespace=%v" . | quote }}
{{- end }}
{{- with $c.leaderElection.id }}
- {{ printf "--leader-election-id=%v" . | quote }}
{{- end }}
{{- with $c.watchNamespace }}
- {{ printf "--namespace=%v" . | quote }}
{{- end }}
{{- if not (kindIs "invalid" $c.maxConcurrentReconciles) }}
- {{ printf "--max-concurrent-reconciles=%v" $c.maxConcurrentReconciles | quote }}
{{- end }}
{{- if not (kindIs "invalid" $c.gracefulShutdownTimeout) }}
- {{ printf "--graceful-shutdown-timeout=%v" $c.gracefulShutdownTimeout | quote }}
{{- end }}
{{- with $c.modelCache.size }}
- {{ printf "--model-cache-size=%v" . | quote }}
{{- end }}
{{- with $c.modelCache.storageClass }}
- {{ printf "--model-cache-storage-class=%v" . | quote }}
{{- end }}
{{- with $c.modelCache.accessMode }}
- {{ printf "--model-cache-access-mode=%v" . | quote }}
{{- end }}
{{- with $c.fetcherImage }}
- {{ printf "--fetcher-image=%v" . | quote }}
{{- end }}
{{- range $accelerator := list "cpu" "nvidia" "amd" }}
{{- with index $c.llamaServerImage $accelerator }}
- {{ printf "--llama-server-image-%s=%v" $accelerator . | quote }}
{{- end }}
{{- end }}
{{- range $product, $quantity := $c.gpuMemory }}
- {{ printf "--gpu-memory=%s=%v" $product $quantity | quote }}
{{- end }}
{{- with $c.fetchNodeSelector }}
- {{ printf "--fetch-node-selector=%v" (include "llmkube.selectorFlag" .) | quote }}
{{- end }}
{{- with $c.dcgm.namespace }}
- {{ printf "--dcgm-namespace=%v" . | quote }}
{{- end }}
{{- with $c.dcgm.selector }}
- {{ printf "--dcgm-selector=%v" (include "llmkube.selectorFlag" .) | quote }}
{{- end }}
{{- with $c.logLevel }}
- {{ printf "--log-level=%v" . | quote }}
{{- end }}
{{- with $c.logFormat }}
- {{ printf "--log-format=%v" . | quote }}
{{- end }}
{{- range $c.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

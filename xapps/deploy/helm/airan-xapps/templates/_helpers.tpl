{{/* Namespace of every object: namespaceOverride, else the flavour's. */}}
{{- define "airan.namespace" -}}
{{- if .Values.namespaceOverride -}}
{{- .Values.namespaceOverride -}}
{{- else if eq .Values.ric.flavour "oran-sc" -}}
ricxapp
{{- else if eq .Values.ric.flavour "sd-ran" -}}
sd-ran
{{- else -}}
{{- fail (printf "ric.flavour must be oran-sc or sd-ran, not %q" .Values.ric.flavour) -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object and pod template (the kustomize base and overlays add the same). */}}
{{- define "airan.commonLabels" -}}
app.kubernetes.io/part-of: airan
airan.io/ric: {{ .Values.ric.flavour }}
{{- end -}}

{{/* Labels on every object's metadata: the common ones plus Helm's. */}}
{{- define "airan.labels" -}}
{{ include "airan.commonLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The metadata block of an object: name, namespace, labels; the dict takes root, name and
     (optional) extra labels as a YAML string. */}}
{{- define "airan.metadata" -}}
metadata:
  name: {{ .name }}
  namespace: {{ include "airan.namespace" .root }}
  labels:
    {{- include "airan.labels" .root | nindent 4 }}
    {{- with .labels }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The data of a component's ConfigMap (YAML): its TOML and, on oran-sc, its route table;
     the chart's copies of the kustomize files unless the values give the text. The dict
     takes root, name (slice-xapp, interference-xapp, conflict-mgr) and values. */}}
{{- define "airan.configData" -}}
{{- $root := .root -}}
{{- $flavour := $root.Values.ric.flavour -}}
{{- $data := dict -}}
{{- if eq .name "conflict-mgr" -}}
{{- $_ := set $data "conflict-mgr.toml" (.values.config | default ($root.Files.Get "files/conflict-mgr.toml")) -}}
{{- else -}}
{{- $file := printf "%s.toml" .name -}}
{{- $_ := set $data $file (.values.config | default ($root.Files.Get (printf "files/%s/%s" $flavour $file))) -}}
{{- if eq $flavour "oran-sc" -}}
{{- $rt := printf "%s.rt" .name -}}
{{- $_ := set $data $rt (.values.routeTable | default ($root.Files.Get (printf "files/oran-sc/%s" $rt))) -}}
{{- end -}}
{{- end -}}
{{- range $file, $text := $data -}}
{{- if not $text -}}
{{- fail (printf "%s: no %s in the chart" $.name $file) -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* A component's ConfigMap name: suffixed by a hash of its data, as kustomize's generator
     does, so that a changed config rolls the pods onto a new ConfigMap. */}}
{{- define "airan.configName" -}}
{{- printf "%s-config-%s" .name (include "airan.configData" . | sha256sum | trunc 10) -}}
{{- end -}}

{{/* RMR data and route ports of an xApp container (O-RAN SC only). */}}
{{- define "airan.rmrContainerPorts" -}}
{{- if eq .Values.ric.flavour "oran-sc" }}
- name: rmr-data
  containerPort: 4560
  protocol: TCP
- name: rmr-route
  containerPort: 4561
  protocol: TCP
{{- end }}
{{- end -}}

{{/* RMR data and route ports of an xApp Service (O-RAN SC only). */}}
{{- define "airan.rmrServicePorts" -}}
{{- if eq .Values.ric.flavour "oran-sc" }}
- name: rmr-data
  port: 4560
  targetPort: rmr-data
  protocol: TCP
- name: rmr-route
  port: 4561
  targetPort: rmr-route
  protocol: TCP
{{- end }}
{{- end -}}

{{/* The image reference of a component's values. */}}
{{- define "airan.image" -}}
{{- printf "%s:%s" .image.repository .image.tag -}}
{{- end -}}

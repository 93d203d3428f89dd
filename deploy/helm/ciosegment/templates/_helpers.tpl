{{/* Chart name, shortened to a valid label value. */}}
{{- define "ciosegment.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name; object names add a component suffix, so it is kept to 40 characters
(StatefulSet pod names get a further ordinal, and controller-revision-hash labels must fit in 63).
*/}}
{{- define "ciosegment.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ciosegment.ingest.fullname" -}}
{{- printf "%s-ingest" (include "ciosegment.fullname" .) }}
{{- end }}

{{- define "ciosegment.processor.fullname" -}}
{{- printf "%s-processor" (include "ciosegment.fullname" .) }}
{{- end }}

{{- define "ciosegment.inspector.fullname" -}}
{{- printf "%s-inspector" (include "ciosegment.fullname" .) }}
{{- end }}

{{- define "ciosegment.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ciosegment.labels" -}}
helm.sh/chart: {{ include "ciosegment.chart" . }}
app.kubernetes.io/name: {{ include "ciosegment.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ciosegment
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of a component: include "ciosegment.selectorLabels" (dict "root" $ "component" "ingest") */}}
{{- define "ciosegment.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ciosegment.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of a component's objects. */}}
{{- define "ciosegment.componentLabels" -}}
{{ include "ciosegment.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
metadata.annotations from commonAnnotations plus extra ones (dict "root" $ "extra" map), as a block that
starts with a new line and is indented for metadata; nothing when there are none.
*/}}
{{- define "ciosegment.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy .root.Values.commonAnnotations) }}
{{- with $all }}
{{- print "\n" (printf "annotations:\n%s" (toYaml . | indent 2) | indent 2) }}
{{- end }}
{{- end }}

{{- define "ciosegment.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ciosegment.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ciosegment.configMapName" -}}
{{- printf "%s-config" (include "ciosegment.fullname" .) }}
{{- end }}

{{/* The ConfigMap of the sources' non-secret settings, mounted as files. */}}
{{- define "ciosegment.sourcesConfigMapName" -}}
{{- printf "%s-sources" (include "ciosegment.fullname" .) }}
{{- end }}

{{/* The Secret the pods mount: the existing one, or the chart's. */}}
{{- define "ciosegment.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "ciosegment.fullname" .) }}
{{- end }}
{{- end }}

{{/* Image reference of a component's image values: repository[:tag][@digest]. */}}
{{- define "ciosegment.image" -}}
{{- $image := .image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag | toString) }}
{{- end }}
{{- end }}

{{/* A value as an environment variable string: whole numbers without an exponent (YAML numbers arrive as float64). */}}
{{- define "ciosegment.str" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
Non-secret settings as environment variables (the ConfigMap's data). Both components load all of them:
each reads its own sections, and both need the sources.
*/}}
{{- define "ciosegment.config" -}}
{{- $v := .Values }}
{{- $env := dict }}
{{- $_ := set $env "CioSegment__Kafka__BootstrapServers" (required "kafka.bootstrapServers is required" $v.kafka.bootstrapServers) }}
{{- $kafkaCommon := dict }}
{{- with $v.kafka.securityProtocol }}{{ $_ := set $kafkaCommon "security.protocol" . }}{{ end }}
{{- with $v.kafka.sasl.mechanism }}{{ $_ := set $kafkaCommon "sasl.mechanism" . }}{{ end }}
{{- with $v.kafka.sasl.username }}{{ $_ := set $kafkaCommon "sasl.username" . }}{{ end }}
{{- range $key, $value := merge (deepCopy $v.kafka.producer) $kafkaCommon }}
{{- $_ := set $env (printf "CioSegment__Kafka__Producer__%s" $key) (include "ciosegment.str" $value) }}
{{- end }}
{{- range $key, $value := merge (deepCopy $v.kafka.consumer) $kafkaCommon }}
{{- $_ := set $env (printf "CioSegment__Kafka__Consumer__%s" $key) (include "ciosegment.str" $value) }}
{{- end }}
{{- $_ := set $env "CioSegment__SchemaRegistry__Url" (required "schemaRegistry.url is required (the processor writes Avro through it)" $v.schemaRegistry.url) }}
{{- /* Ingest */}}
{{- $i := $v.ingest.settings }}
{{- $_ := set $env "CioSegment__Ingest__MaxBodyBytes" (include "ciosegment.str" $i.maxBodyBytes) }}
{{- $_ := set $env "CioSegment__Ingest__BrokerTimeout" $i.brokerTimeout }}
{{- $_ := set $env "CioSegment__Ingest__RetryAfterSeconds" (include "ciosegment.str" $i.retryAfterSeconds) }}
{{- $_ := set $env "CioSegment__Ingest__Topic" $i.topic }}
{{- with $i.signatureTimestampWindow }}{{ $_ := set $env "CioSegment__Ingest__SignatureTimestampWindow" . }}{{ end }}
{{- /* Transformer */}}
{{- $t := $v.processor.transformer }}
{{- $_ := set $env "CioSegment__Transformer__Enabled" (include "ciosegment.str" $t.enabled) }}
{{- $_ := set $env "CioSegment__Transformer__ProcessingGuarantee" $t.processingGuarantee }}
{{- $_ := set $env "CioSegment__Transformer__GroupId" $t.groupId }}
{{- with $t.transactionalId }}{{ $_ := set $env "CioSegment__Transformer__TransactionalId" . }}{{ end }}
{{- $_ := set $env "CioSegment__Transformer__CommitEveryRecords" (include "ciosegment.str" $t.commitEveryRecords) }}
{{- $_ := set $env "CioSegment__Transformer__CommitInterval" $t.commitInterval }}
{{- $_ := set $env "CioSegment__Transformer__DedupHorizon" $t.dedupHorizon }}
{{- $_ := set $env "CioSegment__Transformer__FirstOccurrenceHorizon" $t.firstOccurrenceHorizon }}
{{- $_ := set $env "CioSegment__Transformer__MaxKeysPerPartition" (include "ciosegment.str" $t.maxKeysPerPartition) }}
{{- /* Publisher */}}
{{- $p := $v.processor.publisher }}
{{- $_ := set $env "CioSegment__Publisher__Enabled" (include "ciosegment.str" $p.enabled) }}
{{- $_ := set $env "CioSegment__Publisher__GroupId" $p.groupId }}
{{- $_ := set $env "CioSegment__Publisher__MaxRequestsPerSecondPerSource" (include "ciosegment.str" $p.maxRequestsPerSecondPerSource) }}
{{- $_ := set $env "CioSegment__Publisher__MaxInFlightPerSource" (include "ciosegment.str" $p.maxInFlightPerSource) }}
{{- $_ := set $env "CioSegment__Publisher__Linger" $p.linger }}
{{- $_ := set $env "CioSegment__Publisher__MaxBufferedEvents" (include "ciosegment.str" $p.maxBufferedEvents) }}
{{- $_ := set $env "CioSegment__Publisher__MaxBufferedBytes" (include "ciosegment.str" $p.maxBufferedBytes) }}
{{- $_ := set $env "CioSegment__Publisher__RequestTimeout" $p.requestTimeout }}
{{- $_ := set $env "CioSegment__Publisher__HoldAfter" $p.holdAfter }}
{{- $_ := set $env "CioSegment__Publisher__MaxBufferedBytesPerSource" (include "ciosegment.str" $p.maxBufferedBytesPerSource) }}
{{- /* Sources are files (ciosegment.sourcesConfig, ciosegment.secretData), read from these directories and reloaded while running. */}}
{{- $_ := set $env "CioSegment__SettingsDirectories" (include "ciosegment.settingsDirectories" .) }}
{{- $_ := set $env "CioSegment__SourceCatalog__RemovedSourceGrace" $v.sourceCatalog.removedSourceGrace }}
{{- /* OpenTelemetry */}}
{{- with $v.otel.endpoint }}{{ $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}{{ end }}
{{- with $v.otel.protocol }}{{ $_ := set $env "OTEL_EXPORTER_OTLP_PROTOCOL" . }}{{ end }}
{{- with $v.otel.tracesSampler }}{{ $_ := set $env "OTEL_TRACES_SAMPLER" . }}{{ end }}
{{- with $v.otel.tracesSamplerArg }}{{ $_ := set $env "OTEL_TRACES_SAMPLER_ARG" (include "ciosegment.str" .) }}{{ end }}
{{- /* Logs */}}
{{- $_ := set $env "Logging__Console__FormatterName" $v.logging.format }}
{{- $_ := set $env "Logging__LogLevel__Default" $v.logging.level }}
{{- range $key, $value := $v.extraConfig }}
{{- if regexMatch "(?i)(password|secret|writekey|signingkey|userinfo|token)" $key }}
{{- fail (printf "extraConfig.%s looks like a secret and would land in the ConfigMap; put it in extraSecretEnv (or existingSecret) instead" $key) }}
{{- end }}
{{- $_ := set $env $key (include "ciosegment.str" $value) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
Non-secret source settings, one key per setting named as its environment variable: the data of the
sources ConfigMap, mounted as files and reloaded by the pods without a restart.
*/}}
{{- define "ciosegment.sourcesConfig" -}}
{{- $v := .Values }}
{{- $env := dict }}
{{- range $id, $s := $v.sources }}
{{- $prefix := printf "CioSegment__Sources__%s__" $id }}
{{- with $s.region }}{{ $_ := set $env (print $prefix "Region") . }}{{ end }}
{{- with $s.segmentEndpoint }}{{ $_ := set $env (print $prefix "SegmentEndpoint") . }}{{ end }}
{{- if hasKey $s "enabledEvents" }}
{{- if not $s.enabledEvents }}
{{- fail (printf "sources.%s.enabledEvents is empty, so no event would be sent; list events such as email.* or remove the setting to send every event" $id) }}
{{- end }}
{{- $_ := set $env (print $prefix "EnabledEvents") (join "," $s.enabledEvents) }}
{{- end }}
{{- with $s.sendFrequency }}{{ $_ := set $env (print $prefix "SendFrequency") . }}{{ end }}
{{- if hasKey $s "bodyContent" }}{{ $_ := set $env (print $prefix "BodyContent") (include "ciosegment.str" $s.bodyContent) }}{{ end }}
{{- if hasKey $s "sendBackToCustomerIo" }}{{ $_ := set $env (print $prefix "SendBackToCustomerIo") (include "ciosegment.str" $s.sendBackToCustomerIo) }}{{ end }}
{{- if hasKey $s "version" }}{{ $_ := set $env (print $prefix "Version") (include "ciosegment.str" $s.version) }}{{ end }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Where the pods read the sources ConfigMap and the Secret as files (CioSegment:SettingsDirectories). */}}
{{- define "ciosegment.settingsDirectories" -}}
/etc/ciosegment/sources,/etc/ciosegment/secret
{{- end }}

{{/* Secret data (unencoded), empty with existingSecret. */}}
{{- define "ciosegment.secretData" -}}
{{- $v := .Values }}
{{- $data := dict }}
{{- range $id, $s := $v.sources }}
{{- $prefix := printf "CioSegment__Sources__%s__" $id }}
{{- $_ := set $data (print $prefix "WebhookSigningKey") (required (printf "sources.%s.webhookSigningKey is required unless existingSecret is set" $id) $s.webhookSigningKey) }}
{{- $_ := set $data (print $prefix "WriteKey") (required (printf "sources.%s.writeKey is required unless existingSecret is set" $id) $s.writeKey) }}
{{- end }}
{{- with $v.kafka.sasl.password }}
{{- $_ := set $data "CioSegment__Kafka__Producer__sasl.password" . }}
{{- $_ := set $data "CioSegment__Kafka__Consumer__sasl.password" . }}
{{- end }}
{{- with $v.schemaRegistry.basicAuthUserInfo }}
{{- $_ := set $data "CioSegment__SchemaRegistry__BasicAuthUserInfo" . }}
{{- end }}
{{- if $v.inspector.enabled }}
{{- with $v.inspector.auth.bearerToken }}
{{- $_ := set $data "CioSegment__Inspector__BearerToken" . }}
{{- end }}
{{- with $v.inspector.auth.oidc.clientSecret }}
{{- $_ := set $data "CioSegment__Inspector__Oidc__ClientSecret" . }}
{{- end }}
{{- end }}
{{- range $key, $value := $v.extraSecretEnv }}
{{- $_ := set $data $key (include "ciosegment.str" $value) }}
{{- end }}
{{- toYaml $data }}
{{- end }}

{{/* Checks across values that the schema cannot express. */}}
{{- define "ciosegment.validate" -}}
{{- $v := .Values }}
{{- if and $v.existingSecret (or $v.kafka.sasl.password $v.schemaRegistry.basicAuthUserInfo $v.extraSecretEnv) }}
{{- fail "existingSecret is set: put the Kafka SASL password, the Schema Registry user info and extraSecretEnv into that Secret (keys CioSegment__Kafka__Producer__sasl.password, CioSegment__Kafka__Consumer__sasl.password, CioSegment__SchemaRegistry__BasicAuthUserInfo), not into values" }}
{{- end }}
{{- if $v.existingSecret }}
{{- range $id, $s := $v.sources }}
{{- if or $s.webhookSigningKey $s.writeKey }}
{{- fail (printf "existingSecret is set: sources.%s.webhookSigningKey/writeKey would be ignored; put them into that Secret as CioSegment__Sources__%s__WebhookSigningKey and CioSegment__Sources__%s__WriteKey" $id $id $id) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.processor.transformer.transactionalId (or $v.keda.enabled (gt (int $v.processor.replicaCount) 1)) }}
{{- fail "processor.transformer.transactionalId is set while more than one processor pod may run: the pods would fence each other's transactions. Leave it empty: each pod then uses cio-transformer-<pod name>" }}
{{- end }}
{{- if and $v.keda.enabled (gt (int $v.keda.maxReplicaCount) (int $v.kafka.partitions)) }}
{{- fail (printf "keda.maxReplicaCount (%d) exceeds kafka.partitions (%d): consumers beyond the partition count stay idle" (int $v.keda.maxReplicaCount) (int $v.kafka.partitions)) }}
{{- end }}
{{- if and $v.keda.enabled (gt (int $v.keda.minReplicaCount) (int $v.keda.maxReplicaCount)) }}
{{- fail "keda.minReplicaCount exceeds keda.maxReplicaCount" }}
{{- end }}
{{- if and $v.ingest.autoscaling.enabled (gt (int $v.ingest.autoscaling.minReplicas) (int $v.ingest.autoscaling.maxReplicas)) }}
{{- fail "ingest.autoscaling.minReplicas exceeds ingest.autoscaling.maxReplicas" }}
{{- end }}
{{- range $map := list "producer" "consumer" }}
{{- range $key, $_ := index $v.kafka $map }}
{{- if regexMatch "(?i)(password|secret|oauthbearer\\.config|ssl\\.key\\.pem)" $key }}
{{- fail (printf "kafka.%s.%s looks like a secret and would land in the ConfigMap; put it in extraSecretEnv (or existingSecret) as CioSegment__Kafka__%s__%s" $map $key (title $map) $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not (or $v.processor.transformer.enabled $v.processor.publisher.enabled) }}
{{- fail "processor.transformer.enabled and processor.publisher.enabled are both false: the processor would do nothing" }}
{{- end }}
{{- if $v.inspector.enabled }}
{{- $auth := $v.inspector.auth }}
{{- if and $v.existingSecret (or $auth.bearerToken $auth.oidc.clientSecret) }}
{{- fail "existingSecret is set: put the inspector's bearer token and OpenID Connect client secret into that Secret (keys CioSegment__Inspector__BearerToken, CioSegment__Inspector__Oidc__ClientSecret), not into inspector.auth" }}
{{- end }}
{{- if and (or $auth.oidc.authority $auth.oidc.clientId) (not (and $auth.oidc.authority $auth.oidc.clientId)) }}
{{- fail "inspector.auth.oidc needs both authority and clientId (OpenID Connect sign-in is on only with both)" }}
{{- end }}
{{- if not (or $auth.bearerToken $v.existingSecret (and $auth.oidc.authority $auth.oidc.clientId)) }}
{{- fail "inspector.enabled is true but the inspector has no sign-in: it shows personal data and refuses to start without one. Set inspector.auth.bearerToken (at least 32 characters; or the key CioSegment__Inspector__BearerToken of existingSecret) or inspector.auth.oidc.authority and inspector.auth.oidc.clientId" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by the components: (dict "root" $ "c" componentValues "component" name), optionally
"settingsVolumes" false (no sources ConfigMap and Secret volumes: the inspector reads no settings files) and
"extraVolumes" (a list of volumes).
*/}}
{{- define "ciosegment.podCommon" -}}
{{- $root := .root }}
{{- $c := .c -}}
serviceAccountName: {{ include "ciosegment.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if not (hasKey $constraint "labelSelector") }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "ciosegment.selectorLabels" (dict "root" $root "component" $.component) | fromYaml)) }}
  {{- end }}
  - {{ toYaml $constraint | nindent 4 | trim }}
  {{- end }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpSizeLimit }}
  {{- if or (not (hasKey . "settingsVolumes")) .settingsVolumes }}
  {{- include "ciosegment.settingsVolumes" $root | nindent 2 }}
  {{- end }}
  {{- with .extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* Environment shared by the containers. */}}
{{- define "ciosegment.envCommon" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: TMPDIR
  value: /tmp
{{- $attributes := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" }}
{{- range $key, $value := .Values.otel.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key (include "ciosegment.str" $value)) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- end }}

{{/*
envFrom shared by the containers: the ConfigMap of settings fixed for a pod's life. The Secret and the
sources ConfigMap are mounted as files instead (ciosegment.settingsVolumes), so that sources can be added,
changed and removed without a restart: environment variables never change in a running container.
*/}}
{{- define "ciosegment.envFrom" -}}
- configMapRef:
    name: {{ include "ciosegment.configMapName" . }}
{{- end }}

{{/* The settings volumes of the ingest and processor pods: the sources ConfigMap and the Secret, one file per key. */}}
{{- define "ciosegment.settingsVolumes" -}}
- name: settings-sources
  configMap:
    name: {{ include "ciosegment.sourcesConfigMapName" . }}
- name: settings-secret
  secret:
    secretName: {{ include "ciosegment.secretName" . }}
    defaultMode: 0440
{{- end }}

{{/* Their mounts, at the directories of ciosegment.settingsDirectories. */}}
{{- define "ciosegment.settingsVolumeMounts" -}}
- name: settings-sources
  mountPath: /etc/ciosegment/sources
  readOnly: true
- name: settings-secret
  mountPath: /etc/ciosegment/secret
  readOnly: true
{{- end }}

{{/*
Pod annotations that roll the pods when a setting fixed for a pod's life changes: the ConfigMap, and the
Secret's keys other than sources' (the Kafka and registry credentials). Source settings are left out:
the pods reload them. So are the inspector's credentials, which only the inspector reads.
*/}}
{{- define "ciosegment.checksums" -}}
checksum/config: {{ include "ciosegment.config" . | sha256sum }}
{{- if .Values.existingSecret }}
checksum/secret-name: {{ .Values.existingSecret | sha256sum }}
{{- else }}
{{- $fixed := dict }}
{{- range $key, $value := include "ciosegment.secretData" . | fromYaml }}
{{- if not (or (hasPrefix "CioSegment__Sources__" $key) (hasPrefix "CioSegment__Inspector__" $key)) }}
{{- $_ := set $fixed $key $value }}
{{- end }}
{{- end }}
checksum/secret: {{ toYaml $fixed | sha256sum }}
{{- end }}
{{- end }}

{{/*
The Secret's keys the inspector takes as environment variables (secretKeyRef): it reads no settings files,
and holds no source keys. A list of {key, optional}. From the chart's Secret every key but the sources';
from existingSecret the ones it may hold, optional, except the bearer token when OpenID Connect is off.
*/}}
{{- define "ciosegment.inspector.secretKeys" -}}
{{- $v := .Values }}
{{- $keys := list }}
{{- if $v.existingSecret }}
{{- $oidc := and $v.inspector.auth.oidc.authority $v.inspector.auth.oidc.clientId }}
{{- $keys = append $keys (dict "key" "CioSegment__Inspector__BearerToken" "optional" (not (not $oidc))) }}
{{- if $oidc }}
{{- $keys = append $keys (dict "key" "CioSegment__Inspector__Oidc__ClientSecret" "optional" true) }}
{{- end }}
{{- if $v.kafka.sasl.mechanism }}
{{- $keys = append $keys (dict "key" "CioSegment__Kafka__Producer__sasl.password" "optional" true) }}
{{- $keys = append $keys (dict "key" "CioSegment__Kafka__Consumer__sasl.password" "optional" true) }}
{{- end }}
{{- $keys = append $keys (dict "key" "CioSegment__SchemaRegistry__BasicAuthUserInfo" "optional" true) }}
{{- else }}
{{- range $key, $_ := include "ciosegment.secretData" . | fromYaml }}
{{- if not (hasPrefix "CioSegment__Sources__" $key) }}
{{- $keys = append $keys (dict "key" $key "optional" false) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml (dict "keys" $keys) }}
{{- end }}

{{/*
The inspector pod's checksums: the ConfigMap's settings it reads (not the ingest's, transformer's, publisher's or
the sources'), and the Secret's keys it takes. Its own settings are in its pod template already.
*/}}
{{- define "ciosegment.inspector.checksums" -}}
{{- $config := dict }}
{{- range $key, $value := include "ciosegment.config" . | fromYaml }}
{{- if not (regexMatch "^CioSegment__(Ingest|Transformer|Publisher|SourceCatalog)__|^CioSegment__SettingsDirectories$" $key) }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- end -}}
checksum/config: {{ toYaml $config | sha256sum }}
{{- if .Values.existingSecret }}
checksum/secret-name: {{ .Values.existingSecret | sha256sum }}
{{- else }}
{{- $taken := dict }}
{{- range $key, $value := include "ciosegment.secretData" . | fromYaml }}
{{- if not (hasPrefix "CioSegment__Sources__" $key) }}
{{- $_ := set $taken $key $value }}
{{- end }}
{{- end }}
checksum/secret: {{ toYaml $taken | sha256sum }}
{{- end }}
{{- end }}

using System.Text;
using System.Text.Json.Nodes;

namespace CioSegment.IntegrationTests.Deploy;

/// <summary>
/// The Helm chart (deploy/helm/ciosegment): it lints strictly, renders manifests that pass the Kubernetes
/// and CRD schemas (kubernetes-models, offline), and what it renders has the properties that matter in
/// production. helm and the validator come from deploy/tools/install.sh, which .ci/run runs.
/// </summary>
public sealed class HelmChartTests
{
    private const string InspectorValues = DeployTools.ChartPath + "/ci/inspector-values.yaml";
    private const string InspectorDataPath = "/var/lib/ciosegment-inspector";
    private static readonly string InspectorToken = "inspector-token-MARKER-" + new string('7', 20);
    private static readonly string[] Production = ["-f", DeployTools.ProductionValues];
    private static readonly string[] Inspector = ["-f", InspectorValues];
    private static readonly string[] Default = [];

    public static TheoryData<string> ValuesFiles => new() { "default", "production", "inspector" };

    private static string[] Args(string values) => values switch
    {
        "production" => Production,
        "inspector" => Inspector,
        _ => Default,
    };

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public async Task Chart_lints_strictly(string values)
    {
        var lint = await DeployTools.HelmAsync(["lint", "--strict", DeployTools.ChartPath, .. Args(values)]);

        Assert.True(lint.Succeeded, lint.ToString());
        Assert.Contains("0 chart(s) failed", lint.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public async Task Rendered_manifests_pass_the_kubernetes_schemas(string values)
    {
        var render = await DeployTools.RenderAsync(Args(values));

        Assert.True(render.Helm.Succeeded, render.Helm.ToString());
        Assert.NotNull(render.Validation);
        Assert.True(render.Validation.Succeeded, render.Validation.ToString());
        Assert.Contains(" 0 invalid", render.Validation.Stdout, StringComparison.Ordinal);
        Assert.NotEmpty(render.Objects);
    }

    [Fact]
    public async Task The_validator_rejects_invalid_and_unknown_objects()
    {
        var node = DeployTools.RequireNodeWithModels();
        const string manifests = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: no-selector
            spec:
              template:
                spec:
                  containers:
                    - name: c
                      image: i
            ---
            apiVersion: example.com/v1
            kind: Widget
            metadata:
              name: unknown
            ---
            apiVersion: policy/v1beta1
            kind: PodDisruptionBudget
            metadata:
              name: removed-api
            """;

        var run = await DeployTools.RunAsync(node, [RepositoryPaths.InRoot("deploy/tools/validate-manifests.mjs")], stdin: manifests);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAIL apps/v1 Deployment no-selector", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL example.com/v1 Widget unknown: unknown apiVersion/kind", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL policy/v1beta1 PodDisruptionBudget removed-api: unknown apiVersion/kind", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public async Task Processor_is_a_parallel_statefulset_with_stable_transactional_ids(string values)
    {
        var render = await ValidRenderAsync(Args(values));

        var processor = Assert.Single(render.OfKind("StatefulSet"));
        Assert.DoesNotContain(render.OfKind("Deployment"), d => Name(d).Contains("processor", StringComparison.Ordinal));
        var spec = processor["spec"]!;
        Assert.Equal("Parallel", (string?)spec["podManagementPolicy"]);
        var headless = Assert.Single(render.OfKind("Service"), s => Name(s) == (string?)spec["serviceName"]);
        Assert.Equal("None", (string?)headless["spec"]!["clusterIP"]);
        Assert.Contains(render.OfKind("Service"), s => s["spec"]!["ports"]!.AsArray().Any(p => (int?)p!["port"] == 9464) && (string?)s["spec"]!["clusterIP"] != "None");

        var pod = spec["template"]!["spec"]!;
        Assert.True((int?)pod["terminationGracePeriodSeconds"] >= 45, "the processor commits and flushes on SIGTERM: " + pod["terminationGracePeriodSeconds"]);
        var container = Assert.Single(pod["containers"]!.AsArray())!;
        var shutdown = Assert.Single(container["env"]!.AsArray(), e => (string?)e!["name"] == "DOTNET_shutdownTimeoutSeconds")!;
        Assert.True(int.Parse((string)shutdown["value"]!, System.Globalization.CultureInfo.InvariantCulture) < (int)pod["terminationGracePeriodSeconds"]!, "the host must finish shutting down before the kill");
        Assert.Equal("/health/live", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/health/ready", (string?)container["readinessProbe"]!["httpGet"]!["path"]);   // gates rollouts on the dedup restore
        Assert.True((bool?)Assert.Single(render.OfKind("Service"), s => Name(s).EndsWith("-metrics", StringComparison.Ordinal) && Name(s).Contains("processor", StringComparison.Ordinal))["spec"]!["publishNotReadyAddresses"], "a restoring processor's metrics are scraped");
        var startup = container["startupProbe"]!;
        Assert.True((int?)startup["periodSeconds"] * (int?)startup["failureThreshold"] >= 300, "the startup probe must allow minutes for the dedup restore: " + startup.ToJsonString());

        // No fixed transactional id anywhere: the app then uses cio-transformer-<pod name>.
        foreach (var config in render.OfKind("ConfigMap"))
        {
            Assert.False(config["data"]?.AsObject().ContainsKey("CioSegment__Transformer__TransactionalId") ?? false, Name(config));
        }

        Assert.DoesNotContain("TransactionalId", container.ToJsonString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public async Task Every_container_runs_as_non_root_on_a_read_only_root_filesystem(string values)
    {
        var render = await ValidRenderAsync(Args(values));

        var workloads = render.Objects.Where(o => (string?)o["kind"] is "Deployment" or "StatefulSet" or "DaemonSet" or "Job").ToList();
        Assert.Equal(values == "inspector" ? 3 : 2, workloads.Count);
        foreach (var workload in workloads)
        {
            var pod = workload["spec"]!["template"]!["spec"]!;
            var podContext = pod["securityContext"];
            Assert.Equal("RuntimeDefault", (string?)podContext?["seccompProfile"]?["type"]);
            Assert.True(pod["volumes"]?.AsArray().Any(v => (string?)v!["name"] == "tmp" && v["emptyDir"] is not null), Name(workload) + " has no emptyDir for /tmp");
            var containers = (pod["containers"]?.AsArray() ?? []).Concat(pod["initContainers"]?.AsArray() ?? []).ToList();
            Assert.NotEmpty(containers);
            foreach (var container in containers)
            {
                var where = $"{workload["kind"]} {Name(workload)} container {container!["name"]}: {container["securityContext"]?.ToJsonString()}";
                var context = container["securityContext"];
                Assert.True((bool?)context?["readOnlyRootFilesystem"] == true, where);
                Assert.True(((bool?)context?["runAsNonRoot"] ?? (bool?)podContext?["runAsNonRoot"]) == true, where);
                Assert.True((int?)(context?["runAsUser"] ?? podContext?["runAsUser"]) is > 0, where);
                Assert.True((bool?)context?["allowPrivilegeEscalation"] == false, where);
                Assert.Contains("ALL", context?["capabilities"]?["drop"]?.AsArray().Select(c => (string?)c) ?? []);
                Assert.Contains(container["volumeMounts"]?.AsArray() ?? [], m => (string?)m!["mountPath"] == "/tmp");
                Assert.NotNull(container["resources"]?["requests"]);
            }
        }
    }

    [Fact]
    public async Task Secret_values_appear_only_in_the_secret()
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sources.acme.webhookSigningKey"] = "signing-MARKER-7f3a",
            ["sources.acme.writeKey"] = "write-MARKER-91c2",
            ["kafka.sasl.password"] = "sasl-MARKER-55d0",
            ["schemaRegistry.basicAuthUserInfo"] = "user:registry-MARKER-1e8b",
        };
        var args = secrets.SelectMany(s => new[] { "--set", $"{s.Key}={s.Value}" }).Concat(["--set", "sources.acme.region=eu"]).ToArray();
        var render = await ValidRenderAsync(args);

        var secret = Assert.Single(render.OfKind("Secret"));
        var data = secret["data"]!.AsObject();
        foreach (var value in secrets.Values)
        {
            var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(value));
            Assert.Contains(data, d => (string?)d.Value == encoded);
            foreach (var other in render.Objects.Where(o => !ReferenceEquals(o, secret)))
            {
                var json = other.ToJsonString();
                Assert.False(json.Contains(value, StringComparison.Ordinal) || json.Contains(encoded, StringComparison.Ordinal), $"{other["kind"]} {Name(other)} holds a secret value");
            }
        }

        Assert.True(data.ContainsKey("CioSegment__Sources__acme__WebhookSigningKey"), string.Join(", ", data.Select(d => d.Key)));
        Assert.True(data.ContainsKey("CioSegment__Sources__acme__WriteKey"), string.Join(", ", data.Select(d => d.Key)));
        var sources = Assert.Single(render.OfKind("ConfigMap"), c => Name(c) == $"{DeployTools.ReleaseName}-ciosegment-sources");
        Assert.Equal("eu", (string?)sources["data"]!["CioSegment__Sources__acme__Region"]);
        foreach (var config in render.OfKind("ConfigMap"))
        {
            AssertNoSecretKeys(config);
        }
    }

    [Fact]
    public async Task Production_render_uses_the_existing_secret_and_keeps_secrets_out_of_config_maps()
    {
        var render = await ValidRenderAsync(Production);

        Assert.Empty(render.OfKind("Secret"));
        foreach (var config in render.OfKind("ConfigMap"))
        {
            AssertNoSecretKeys(config);
        }

        foreach (var workload in render.Objects.Where(o => (string?)o["kind"] is "Deployment" or "StatefulSet"))
        {
            var pod = workload["spec"]!["template"]!["spec"]!;
            var container = pod["containers"]![0]!;

            // The Secret and the sources are files the pods reload; only fixed settings are environment variables.
            Assert.DoesNotContain(container["envFrom"]!.AsArray(), e => e!["secretRef"] is not null);
            Assert.Contains(container["envFrom"]!.AsArray(), e => e!["configMapRef"] is not null);
            Assert.Contains(pod["volumes"]!.AsArray(), v => (string?)v!["secret"]?["secretName"] == "ciosegment-secrets");
            Assert.Contains(pod["volumes"]!.AsArray(), v => (string?)v!["configMap"]?["name"] == $"{DeployTools.ReleaseName}-ciosegment-sources");
            var mounts = container["volumeMounts"]!.AsArray().Select(m => (string?)m!["mountPath"]).ToList();
            var directories = (string?)Assert.Single(render.OfKind("ConfigMap"), c => Name(c) == $"{DeployTools.ReleaseName}-ciosegment-config")["data"]!["CioSegment__SettingsDirectories"];
            Assert.Equal(directories!.Split(','), mounts.Where(m => m!.StartsWith("/etc/ciosegment/", StringComparison.Ordinal)));
            var annotations = workload["spec"]!["template"]!["metadata"]!["annotations"]!.AsObject();
            Assert.True(annotations.ContainsKey("checksum/config"), "a config change must roll the pods: " + annotations.ToJsonString());
        }
    }

    [Fact]
    public async Task Chart_yaml_has_what_chart_testing_and_chart_repositories_read()
    {
        var node = DeployTools.RequireNodeWithModels();
        var run = await DeployTools.RunAsync(
            node,
            ["--input-type=module", "-e", "import { parse } from 'yaml'; import { readFileSync } from 'node:fs'; process.stdout.write(JSON.stringify(parse(readFileSync(process.argv[1], 'utf8'))));", RepositoryPaths.InRoot(DeployTools.ChartPath + "/Chart.yaml")],
            workingDirectory: RepositoryPaths.InRoot("deploy/tools"));
        Assert.True(run.Succeeded, run.ToString());
        var chart = JsonNode.Parse(run.Stdout)!.AsObject();

        Assert.Equal("v2", (string?)chart["apiVersion"]);
        Assert.Equal("ciosegment", (string?)chart["name"]);
        Assert.Equal("application", (string?)chart["type"]);
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", (string?)chart["version"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)chart["appVersion"]));
        Assert.False(string.IsNullOrWhiteSpace((string?)chart["description"]));
        Assert.Matches(@"^>=\s*1\.\d+\.\d+-0$", (string?)chart["kubeVersion"]);   // "-0" admits pre-release and vendor suffixes (v1.30.2-eks-...)
        Assert.NotEmpty(chart["keywords"]!.AsArray());

        // Where the chart is published: absolute URLs when given; maintainers named (chart-testing checks them against GitHub).
        foreach (var url in (chart["sources"]?.AsArray() ?? []).Append(chart["home"]).Where(u => u is not null))
        {
            Assert.Matches("^https://", (string?)url);
        }

        Assert.All(chart["maintainers"]?.AsArray() ?? [], m => Assert.False(string.IsNullOrWhiteSpace((string?)m!["name"])));

        // helm refuses to install on an older cluster: the constraint is enforced, not decorative.
        var old = await DeployTools.TemplateAsync(["--kube-version", "1.29.0"]);
        Assert.False(old.Succeeded);
        Assert.Contains("kubeVersion", old.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Adding_changing_or_removing_a_source_rolls_no_pod_but_a_credential_change_does()
    {
        static async Task<Dictionary<string, string>> PodTemplatesAsync(params string[] args) =>
            (await ValidRenderAsync(args)).Objects.Where(o => (string?)o["kind"] is "Deployment" or "StatefulSet")
                .ToDictionary(o => Name(o), o => o["spec"]!["template"]!.ToJsonString());
        string[] acme = ["--set", "sources.acme.webhookSigningKey=s", "--set", "sources.acme.writeKey=w"];

        var before = await PodTemplatesAsync(acme);
        Assert.Equal(before, await PodTemplatesAsync([.. acme, "--set", "sources.beta.webhookSigningKey=s2", "--set", "sources.beta.writeKey=w2", "--set", "sources.beta.region=eu"]));
        Assert.Equal(before, await PodTemplatesAsync([.. acme, "--set", "sources.acme.writeKey=rotated", "--set", "sources.acme.enabledEvents={email.*}"]));
        Assert.Equal(before, await PodTemplatesAsync());

        var credentials = await PodTemplatesAsync([.. acme, "--set", "kafka.sasl.password=changed"]);
        Assert.All(before.Keys, name => Assert.NotEqual(before[name], credentials[name]));
        var fixedSetting = await PodTemplatesAsync([.. acme, "--set", "processor.publisher.linger=00:00:01"]);
        Assert.All(before.Keys, name => Assert.NotEqual(before[name], fixedSetting[name]));
    }

    [Fact]
    public async Task Production_render_has_the_operational_objects()
    {
        var render = await ValidRenderAsync(Production);
        var kinds = string.Join(", ", render.Kinds);

        Assert.Equal(2, render.OfKind("ServiceMonitor").Count());
        Assert.Equal(["cio-ingest", "cio-processor"], render.OfKind("ServiceMonitor").Select(m => (string?)m["spec"]!["selector"]!["matchLabels"]!["ciosegment-metrics-job"]).Order(StringComparer.Ordinal));
        var rule = Assert.Single(render.OfKind("PrometheusRule"));
        Assert.NotEmpty(rule["spec"]!["groups"]!.AsArray());
        Assert.Equal(2, render.OfKind("NetworkPolicy").Count());
        var hpa = Assert.Single(render.OfKind("HorizontalPodAutoscaler"));
        Assert.Equal("Deployment", (string?)hpa["spec"]!["scaleTargetRef"]!["kind"]);
        Assert.Equal(2, render.OfKind("PodDisruptionBudget").Count());
        var ingress = Assert.Single(render.OfKind("Ingress"));
        Assert.NotEmpty(ingress["spec"]!["tls"]!.AsArray());
        Assert.All(
            ingress["spec"]!["rules"]!.AsArray().SelectMany(r => r!["http"]!["paths"]!.AsArray()),
            p => Assert.StartsWith("/webhooks/", (string?)p!["path"], StringComparison.Ordinal));
        var dashboard = Assert.Single(render.OfKind("ConfigMap"), c => (string?)c["metadata"]!["labels"]?["grafana_dashboard"] == "1");
        Assert.NotNull(JsonNode.Parse((string)dashboard["data"]!["ciosegment.json"]!));

        var scaled = Assert.Single(render.OfKind("ScaledObject"));
        Assert.Equal("StatefulSet", (string?)scaled["spec"]!["scaleTargetRef"]!["kind"]);
        Assert.True((int?)scaled["spec"]!["maxReplicaCount"] <= 12, "maxReplicaCount must not exceed the partitions (12)");
        var triggers = scaled["spec"]!["triggers"]!.AsArray().Select(t => (Type: (string?)t!["type"], Group: (string?)t["metadata"]!["consumerGroup"], Topic: (string?)t["metadata"]!["topic"])).ToList();
        Assert.Contains(("kafka", "cio-transformer", "cio.webhooks.raw"), triggers);
        Assert.Contains(("kafka", "cio-publisher", "cio.segment.track"), triggers);

        // Under KEDA and the HPA the replica counts are theirs: helm upgrades must not reset them.
        Assert.Null(Assert.Single(render.OfKind("StatefulSet"))["spec"]!["replicas"]);
        Assert.Null(Assert.Single(render.OfKind("Deployment"))["spec"]!["replicas"]);
        Assert.True(render.Objects.Count >= 18, kinds);
    }

    [Fact]
    public async Task Helm_test_checks_the_ingest_readiness_through_its_service_and_the_network_policy_lets_it()
    {
        var render = await ValidRenderAsync(Production);

        var test = Assert.Single(render.OfKind("Pod"));
        Assert.Equal("test", (string?)test["metadata"]!["annotations"]!["helm.sh/hook"]);
        Assert.Equal("Never", (string?)test["spec"]!["restartPolicy"]);
        var ingest = Assert.Single(render.OfKind("Service"), s => (string?)s["metadata"]!["labels"]!["app.kubernetes.io/component"] == "ingest");
        var command = string.Join(' ', Assert.Single(test["spec"]!["containers"]!.AsArray())!["command"]!.AsArray().Select(c => (string?)c));
        Assert.EndsWith($"http://{Name(ingest)}:{ingest["spec"]!["ports"]![0]!["port"]}/health/ready", command, StringComparison.Ordinal);

        var policy = Assert.Single(render.OfKind("NetworkPolicy"), p => Name(p).EndsWith("-ingest", StringComparison.Ordinal));
        var testLabels = test["metadata"]!["labels"]!;
        Assert.Contains(
            policy["spec"]!["ingress"]!.AsArray().SelectMany(rule => rule!["from"]!.AsArray()),
            peer => peer!["podSelector"]?["matchLabels"] is JsonObject match && match.Count > 0
                && match.All(kv => (string?)testLabels[kv.Key] == (string?)kv.Value));

        var off = await ValidRenderAsync([.. Production, "--set", "tests.enabled=false"]);
        Assert.Empty(off.OfKind("Pod"));
    }

    [Fact]
    public async Task Runbook_urls_become_absolute_with_a_base_url_and_stay_relative_without()
    {
        static List<string> RunbookUrls(ChartRender render) =>
            Assert.Single(render.OfKind("PrometheusRule"))["spec"]!["groups"]!.AsArray()
                .SelectMany(g => g!["rules"]!.AsArray())
                .Select(r => (string?)r!["annotations"]?["runbook_url"])
                .OfType<string>()
                .ToList();

        var relative = RunbookUrls(await ValidRenderAsync(Production));
        Assert.NotEmpty(relative);
        Assert.All(relative, u => Assert.StartsWith("docs/operations.md#", u, StringComparison.Ordinal));

        var absolute = RunbookUrls(await ValidRenderAsync([.. Production, "--set", "metrics.prometheusRule.runbookBaseUrl=https://git.example.com/ops/ciosegment/-/blob/v0.1.0/"]));
        Assert.Equal(relative.Select(u => "https://git.example.com/ops/ciosegment/-/blob/v0.1.0/" + u), absolute);

        var refused = await DeployTools.RenderAsync([.. Production, "--set", "metrics.prometheusRule.runbookBaseUrl=git.example.com/ops"]);
        Assert.False(refused.Helm.Succeeded, "a base URL without a scheme must be refused by the values schema");
    }

    [Fact]
    public async Task Default_render_has_no_optional_custom_resources()
    {
        var render = await ValidRenderAsync(Default);

        var apiVersions = render.Objects.Select(o => (string?)o["apiVersion"]).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.All(apiVersions, v => Assert.True(v is "v1" or "apps/v1" or "policy/v1", "unexpected apiVersion by default: " + v));
        Assert.DoesNotContain(render.Objects, o => (string?)o["kind"] is "ServiceMonitor" or "PrometheusRule" or "ScaledObject" or "NetworkPolicy" or "Ingress" or "HorizontalPodAutoscaler");
        Assert.Equal(2, (int?)Assert.Single(render.OfKind("Deployment"))["spec"]!["replicas"]);
        Assert.Equal(1, (int?)Assert.Single(render.OfKind("StatefulSet"))["spec"]!["replicas"]);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("production")]
    public async Task Inspector_is_off_by_default(string values)
    {
        var render = await ValidRenderAsync(Args(values));

        Assert.DoesNotContain(render.Objects, o => Name(o).Contains("inspector", StringComparison.Ordinal) || (string?)o["metadata"]?["labels"]?["app.kubernetes.io/component"] == "inspector");
        Assert.Empty(render.OfKind("PersistentVolumeClaim"));
        // The dashboard always has its (then empty) inspector row; no other setting or secret names it.
        Assert.DoesNotContain("Inspector", string.Join('\n', render.OfKind("Secret").Concat(render.OfKind("ConfigMap").Where(c => !Name(c).Contains("dashboard", StringComparison.Ordinal))).Select(o => o.ToJsonString())), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspector_with_a_bearer_token_is_one_recreated_pod_with_its_service_volume_probes_and_secret_reference()
    {
        var render = await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", $"inspector.auth.bearerToken={InspectorToken}"]);

        var deployment = Assert.Single(render.OfKind("Deployment"), d => Name(d) == $"{DeployTools.ReleaseName}-ciosegment-inspector");
        var spec = deployment["spec"]!;
        Assert.Equal(1, (int?)spec["replicas"]);
        Assert.Equal("Recreate", (string?)spec["strategy"]!["type"]);
        Assert.Null(spec["strategy"]!["rollingUpdate"]);
        var pod = spec["template"]!["spec"]!;
        var container = Assert.Single(pod["containers"]!.AsArray())!;

        // Settings: its own as environment variables, Kafka and the registry from the shared ConfigMap like the processor's.
        var env = container["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);
        Assert.Equal($"{InspectorDataPath}/inspector.db", (string?)env["CioSegment__Inspector__DatabasePath"]["value"]);
        Assert.Equal("1.00:00:00", (string?)env["CioSegment__Inspector__Retention"]["value"]);
        Assert.Equal("10000000", (string?)env["CioSegment__Inspector__MaxWebhooks"]["value"]);
        Assert.Equal("false", (string?)env["CioSegment__Inspector__MaskEmails"]["value"]);
        Assert.Equal("8080", (string?)env["ASPNETCORE_HTTP_PORTS"]["value"]);
        Assert.False(env.ContainsKey("CioSegment__Inspector__Oidc__Authority"), "OpenID Connect is off");
        var tokenRef = env["CioSegment__Inspector__BearerToken"]["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal($"{DeployTools.ReleaseName}-ciosegment-secrets", (string?)tokenRef["name"]);
        Assert.Equal("CioSegment__Inspector__BearerToken", (string?)tokenRef["key"]);
        Assert.NotEqual(true, (bool?)tokenRef["optional"]);
        Assert.Null(env["CioSegment__Inspector__BearerToken"]["value"]);
        Assert.Contains(container["envFrom"]!.AsArray(), e => (string?)e!["configMapRef"]?["name"] == $"{DeployTools.ReleaseName}-ciosegment-config");
        Assert.DoesNotContain(container["envFrom"]!.AsArray(), e => e!["secretRef"] is not null);

        // The index on a writable volume (an emptyDir without persistence), /tmp, a read-only root filesystem.
        var mounts = container["volumeMounts"]!.AsArray().ToDictionary(m => (string)m!["mountPath"]!, m => (string)m!["name"]!);
        var volumes = pod["volumes"]!.AsArray().ToDictionary(v => (string)v!["name"]!, v => v!);
        Assert.NotNull(volumes[mounts[InspectorDataPath]]["emptyDir"]);
        Assert.NotNull(volumes[mounts["/tmp"]]["emptyDir"]);
        Assert.True((bool?)container["securityContext"]!["readOnlyRootFilesystem"]);
        Assert.DoesNotContain(volumes.Values, v => v["secret"] is not null);   // it mounts no Secret: no source keys in this pod
        Assert.Empty(render.OfKind("PersistentVolumeClaim"));

        var port = Assert.Single(container["ports"]!.AsArray())!;
        Assert.Equal(8080, (int?)port["containerPort"]);
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            Assert.Equal("/health/live", (string?)container[probe]!["httpGet"]!["path"]);
            Assert.Equal((string?)port["name"], (string?)container[probe]!["httpGet"]!["port"]);
        }

        var service = Assert.Single(render.OfKind("Service"), s => Name(s) == Name(deployment));
        Assert.Equal("ClusterIP", (string?)service["spec"]!["type"]);
        var servicePort = Assert.Single(service["spec"]!["ports"]!.AsArray())!;
        Assert.Equal(8080, (int?)servicePort["port"]);
        Assert.Equal((string?)port["name"], (string?)servicePort["targetPort"]);
        Assert.Equal("cio-inspector", (string?)service["metadata"]!["labels"]!["ciosegment-metrics-job"]);
        var podLabels = spec["template"]!["metadata"]!["labels"]!;
        Assert.All(service["spec"]!["selector"]!.AsObject(), kv => Assert.Equal((string?)kv.Value, (string?)podLabels[kv.Key]));
        Assert.All(spec["selector"]!["matchLabels"]!.AsObject(), kv => Assert.Equal((string?)kv.Value, (string?)podLabels[kv.Key]));

        // The ingest and the processor stay as they were, the inspector selects only its own pod.
        Assert.Equal("inspector", (string?)podLabels["app.kubernetes.io/component"]);
        Assert.Single(render.OfKind("StatefulSet"));
        Assert.Equal(2, render.OfKind("Deployment").Count());
    }

    [Fact]
    public async Task Inspector_persistence_puts_the_index_on_a_claim()
    {
        var render = await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", $"inspector.auth.bearerToken={InspectorToken}", "--set", "inspector.persistence.enabled=true", "--set", "inspector.persistence.storageClass=fast-ssd"]);

        var claim = Assert.Single(render.OfKind("PersistentVolumeClaim"));
        Assert.Equal(["ReadWriteOnce"], claim["spec"]!["accessModes"]!.AsArray().Select(m => (string?)m));
        Assert.Equal("20Gi", (string?)claim["spec"]!["resources"]!["requests"]!["storage"]);
        Assert.Equal("fast-ssd", (string?)claim["spec"]!["storageClassName"]);
        var deployment = Assert.Single(render.OfKind("Deployment"), d => Name(d).EndsWith("-inspector", StringComparison.Ordinal));
        Assert.Equal("Recreate", (string?)deployment["spec"]!["strategy"]!["type"]);   // a ReadWriteOnce claim: the old pod lets go first
        var pod = deployment["spec"]!["template"]!["spec"]!;
        var mount = Assert.Single(pod["containers"]![0]!["volumeMounts"]!.AsArray(), m => (string?)m!["mountPath"] == InspectorDataPath)!;
        var volume = Assert.Single(pod["volumes"]!.AsArray(), v => (string?)v!["name"] == (string?)mount["name"])!;
        Assert.Equal(Name(claim), (string?)volume["persistentVolumeClaim"]!["claimName"]);
        Assert.Null(volume["emptyDir"]);

        var defaultClass = await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", $"inspector.auth.bearerToken={InspectorToken}", "--set", "inspector.persistence.enabled=true"]);
        Assert.Null(Assert.Single(defaultClass.OfKind("PersistentVolumeClaim"))["spec"]!["storageClassName"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("inspector.auth.oidc.clientSecret=only-a-secret")]
    [InlineData("inspector.auth.oidc.requireHttpsMetadata=false")]
    public async Task Inspector_without_sign_in_fails_the_render(string? set)
    {
        var run = await DeployTools.TemplateAsync(["--set", "inspector.enabled=true", .. set is null ? Array.Empty<string>() : ["--set", set]]);

        Assert.False(run.Succeeded, run.ToString());
        Assert.Contains("the inspector has no sign-in: it shows personal data and refuses to start without one", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("inspector.auth.bearerToken", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("inspector.auth.oidc.authority and inspector.auth.oidc.clientId", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspector_signs_in_with_openid_connect_or_a_token_of_the_existing_secret()
    {
        var oidc = await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", "inspector.auth.oidc.authority=https://login.example.com/realms/ops", "--set", "inspector.auth.oidc.clientId=cio-inspector", "--set", "networkPolicy.enabled=true"]);
        var env = InspectorEnv(oidc);
        Assert.Equal("https://login.example.com/realms/ops", (string?)env["CioSegment__Inspector__Oidc__Authority"]["value"]);
        Assert.Equal("cio-inspector", (string?)env["CioSegment__Inspector__Oidc__ClientId"]["value"]);
        Assert.Equal("true", (string?)env["CioSegment__Inspector__Oidc__RequireHttpsMetadata"]["value"]);
        Assert.False(env.ContainsKey("CioSegment__Inspector__BearerToken"));
        var policy = Assert.Single(oidc.OfKind("NetworkPolicy"), p => Name(p).EndsWith("-inspector", StringComparison.Ordinal));
        Assert.Contains(policy["spec"]!["egress"]!.AsArray(), rule => rule!["ports"]!.AsArray().Any(p => (int?)p!["port"] == 443));   // the issuer

        // With existingSecret the token is that Secret's key: required without OpenID Connect, optional with it.
        var existing = InspectorEnv(await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", "existingSecret=ops-secrets"]));
        var tokenRef = existing["CioSegment__Inspector__BearerToken"]["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal("ops-secrets", (string?)tokenRef["name"]);
        Assert.NotEqual(true, (bool?)tokenRef["optional"]);
        var both = InspectorEnv(await ValidRenderAsync(["--set", "inspector.enabled=true", "--set", "existingSecret=ops-secrets", "--set", "inspector.auth.oidc.authority=https://login.example.com", "--set", "inspector.auth.oidc.clientId=c"]));
        Assert.True((bool?)both["CioSegment__Inspector__BearerToken"]["valueFrom"]!["secretKeyRef"]!["optional"]);
        Assert.True((bool?)both["CioSegment__Inspector__Oidc__ClientSecret"]["valueFrom"]!["secretKeyRef"]!["optional"]);
    }

    [Fact]
    public async Task Inspector_credentials_appear_only_in_the_secret()
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["inspector.auth.bearerToken"] = InspectorToken,
            ["inspector.auth.oidc.clientSecret"] = "oidc-client-MARKER-3c9d",
            ["kafka.sasl.password"] = "sasl-MARKER-a61f",
        };
        var args = secrets.SelectMany(s => new[] { "--set", $"{s.Key}={s.Value}" })
            .Concat(["--set", "inspector.enabled=true", "--set", "inspector.auth.oidc.authority=https://login.example.com", "--set", "inspector.auth.oidc.clientId=c", "--set", "kafka.sasl.mechanism=PLAIN"])
            .Concat(["--set", "sources.acme.webhookSigningKey=signing-MARKER-0d4e", "--set", "sources.acme.writeKey=write-MARKER-8b21"])
            .ToArray();
        var render = await ValidRenderAsync(args);

        var secret = Assert.Single(render.OfKind("Secret"));
        var data = secret["data"]!.AsObject();
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes(InspectorToken)), (string?)data["CioSegment__Inspector__BearerToken"]);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("oidc-client-MARKER-3c9d")), (string?)data["CioSegment__Inspector__Oidc__ClientSecret"]);
        foreach (var value in secrets.Values)
        {
            var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(value));
            foreach (var other in render.Objects.Where(o => !ReferenceEquals(o, secret)))
            {
                var json = other.ToJsonString();
                Assert.False(json.Contains(value, StringComparison.Ordinal) || json.Contains(encoded, StringComparison.Ordinal), $"{other["kind"]} {Name(other)} holds a secret value");
            }
        }

        // The inspector takes its credentials, the Kafka password included, by reference; no source key reaches it.
        var env = InspectorEnv(render);
        foreach (var key in new[] { "CioSegment__Inspector__BearerToken", "CioSegment__Inspector__Oidc__ClientSecret", "CioSegment__Kafka__Producer__sasl.password", "CioSegment__Kafka__Consumer__sasl.password" })
        {
            Assert.Equal(key, (string?)env[key]["valueFrom"]!["secretKeyRef"]!["key"]);
        }

        var inspector = Assert.Single(render.OfKind("Deployment"), d => Name(d).EndsWith("-inspector", StringComparison.Ordinal));
        Assert.DoesNotContain("CioSegment__Sources__", inspector.ToJsonString(), StringComparison.Ordinal);
        foreach (var config in render.OfKind("ConfigMap"))
        {
            AssertNoSecretKeys(config);
            Assert.DoesNotContain("Inspector", config.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Inspector_changes_roll_only_the_inspector()
    {
        static async Task<Dictionary<string, string>> PodTemplatesAsync(params string[] args) =>
            (await ValidRenderAsync(args)).Objects.Where(o => (string?)o["kind"] is "Deployment" or "StatefulSet")
                .ToDictionary(o => Name(o), o => o["spec"]!["template"]!.ToJsonString());
        string[] on = ["--set", "inspector.enabled=true", "--set", $"inspector.auth.bearerToken={InspectorToken}"];
        var inspector = $"{DeployTools.ReleaseName}-ciosegment-inspector";

        var off = await PodTemplatesAsync();
        var before = await PodTemplatesAsync(on);
        Assert.Equal(off, before.Where(t => t.Key != inspector).ToDictionary());   // enabling it (and its token in the Secret) rolls no other pod

        var rotated = await PodTemplatesAsync([.. on, "--set", $"inspector.auth.bearerToken={InspectorToken}-rotated"]);
        var retention = await PodTemplatesAsync([.. on, "--set", "inspector.settings.retention=3.00:00:00"]);
        foreach (var changed in new[] { rotated, retention })
        {
            Assert.NotEqual(before[inspector], changed[inspector]);
            Assert.Equal(before.Where(t => t.Key != inspector), changed.Where(t => t.Key != inspector));
        }

        // A processor setting does not restart the inspector (with an emptyDir its index would be rebuilt); Kafka settings do.
        Assert.Equal(before[inspector], (await PodTemplatesAsync([.. on, "--set", "processor.publisher.linger=00:00:01"]))[inspector]);
        Assert.NotEqual(before[inspector], (await PodTemplatesAsync([.. on, "--set", "kafka.bootstrapServers=other:9092"]))[inspector]);
        Assert.NotEqual(before[inspector], (await PodTemplatesAsync([.. on, "--set", "kafka.sasl.password=changed"]))[inspector]);
    }

    [Fact]
    public async Task Inspector_values_file_adds_its_monitoring_network_policy_and_ingress()
    {
        var render = await ValidRenderAsync(Inspector);

        Assert.Equal(["cio-ingest", "cio-inspector", "cio-processor"], render.OfKind("ServiceMonitor").Select(m => (string?)m["spec"]!["selector"]!["matchLabels"]!["ciosegment-metrics-job"]).Order(StringComparer.Ordinal));
        var monitor = Assert.Single(render.OfKind("ServiceMonitor"), m => Name(m).EndsWith("-inspector", StringComparison.Ordinal));
        var service = Assert.Single(render.OfKind("Service"), s => (string?)s["metadata"]!["labels"]!["ciosegment-metrics-job"] == "cio-inspector");
        Assert.Equal((string?)service["spec"]!["ports"]![0]!["name"], (string?)monitor["spec"]!["endpoints"]![0]!["port"]);
        Assert.Single(render.OfKind("PersistentVolumeClaim"));

        var ingress = Assert.Single(render.OfKind("Ingress"));
        Assert.Equal(Name(service), (string?)ingress["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!["name"]);
        Assert.All(
            ingress["spec"]!["rules"]!.AsArray().SelectMany(r => r!["http"]!["paths"]!.AsArray()),
            p => Assert.StartsWith("/inspector", (string?)p!["path"], StringComparison.Ordinal));

        Assert.Equal(3, render.OfKind("NetworkPolicy").Count());
        var policy = Assert.Single(render.OfKind("NetworkPolicy"), p => Name(p).EndsWith("-inspector", StringComparison.Ordinal));
        Assert.Equal("inspector", (string?)policy["spec"]!["podSelector"]!["matchLabels"]!["app.kubernetes.io/component"]);
        var from = policy["spec"]!["ingress"]!.AsArray().SelectMany(r => r!["from"]!.AsArray()).ToList();
        Assert.Contains(from, peer => (string?)peer!["namespaceSelector"]?["matchLabels"]?["kubernetes.io/metadata.name"] == "ingress-nginx");
        Assert.Contains(from, peer => (string?)peer!["namespaceSelector"]?["matchLabels"]?["kubernetes.io/metadata.name"] == "monitoring");
        Assert.Equal("true", (string?)InspectorEnv(render)["ASPNETCORE_FORWARDEDHEADERS_ENABLED"]["value"]);
    }

    private static Dictionary<string, JsonNode> InspectorEnv(ChartRender render)
    {
        var deployment = Assert.Single(render.OfKind("Deployment"), d => Name(d).EndsWith("-inspector", StringComparison.Ordinal));
        return deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);
    }

    [Theory]
    [InlineData("ingest.replicaCount=abc", "replicaCount")]
    [InlineData("ingest.replicas=3", "replicas")]
    [InlineData("processor.terminationGracePeriodSeconds=10", "terminationGracePeriodSeconds")]
    [InlineData("sources.acme.region=moon", "region")]
    [InlineData("inspector.auth.bearerToken=shorter-than-32-characters", "bearerToken")]
    [InlineData("inspector.settings.retention=1d", "retention")]
    public async Task Values_that_break_the_schema_fail_the_render(string set, string named)
    {
        var run = await DeployTools.TemplateAsync("--set", set);

        Assert.False(run.Succeeded, run.ToString());
        Assert.Contains("schema", run.Stderr, StringComparison.Ordinal);
        Assert.Contains(named, run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exceeds kafka.partitions (12)", "--set", "keda.enabled=true", "--set", "keda.maxReplicaCount=13")]
    [InlineData("sources.acme.writeKey is required", "--set", "sources.acme.webhookSigningKey=k")]
    [InlineData("would fence each other", "--set", "processor.transformer.transactionalId=x", "--set", "processor.replicaCount=2")]
    [InlineData("looks like a secret", "--set", "kafka.producer.sasl\\.password=x")]
    [InlineData("existingSecret is set", "--set", "existingSecret=s", "--set", "sources.acme.writeKey=w")]
    [InlineData("needs both authority and clientId", "--set", "inspector.enabled=true", "--set", "inspector.auth.oidc.authority=https://login.example.com")]
    [InlineData("existingSecret is set: put the inspector's bearer token", "--set", "inspector.enabled=true", "--set", "existingSecret=s", "--set", "inspector.auth.bearerToken=0123456789abcdef0123456789abcdef")]
    public async Task Inconsistent_values_fail_the_render_with_a_reason(string reason, params string[] args)
    {
        var run = await DeployTools.TemplateAsync(args);

        Assert.False(run.Succeeded, run.ToString());
        Assert.Contains(reason, run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metrics.prometheusRule.enabled=true", "files/alerts/ciosegment-rules.yaml")]
    [InlineData("metrics.dashboard.enabled=true", "files/dashboards/ciosegment.json")]
    public async Task Monitoring_features_fail_clearly_when_their_files_are_missing(string set, string file)
    {
        var helm = DeployTools.RequireHelm();
        var copy = Directory.CreateTempSubdirectory("ciosegment-chart-").FullName;
        try
        {
            CopyDirectory(RepositoryPaths.InRoot(DeployTools.ChartPath), copy, skip: "files");

            var run = await DeployTools.RunAsync(helm, ["template", "cio", copy, "--set", set]);

            Assert.False(run.Succeeded, run.ToString());
            Assert.Contains(file, run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public async Task Values_file_documents_every_value()
    {
        var node = DeployTools.RequireNodeWithModels();

        var run = await DeployTools.RunAsync(node, [RepositoryPaths.InRoot("deploy/tools/check-values-doc.mjs"), RepositoryPaths.InRoot(DeployTools.ChartPath + "/values.yaml")]);

        Assert.True(run.Succeeded, run.ToString());
    }

    private static async Task<ChartRender> ValidRenderAsync(string[] args)
    {
        var render = await DeployTools.RenderAsync(args);
        Assert.True(render.Helm.Succeeded, render.Helm.ToString());
        Assert.True(render.Validation?.Succeeded == true, render.ToString());
        return render;
    }

    private static void AssertNoSecretKeys(JsonObject config)
    {
        foreach (var (key, _) in config["data"]?.AsObject() ?? [])
        {
            Assert.False(
                key.EndsWith("WriteKey", StringComparison.OrdinalIgnoreCase) || key.EndsWith("SigningKey", StringComparison.OrdinalIgnoreCase)
                || key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("UserInfo", StringComparison.OrdinalIgnoreCase),
                $"ConfigMap {Name(config)} holds the secret setting {key}");
        }
    }

    private static string Name(JsonNode o) => (string?)o["metadata"]?["name"] ?? "";

    private static void CopyDirectory(string from, string to, string skip)
    {
        foreach (var dir in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(dir);
            if (!string.Equals(name, skip, StringComparison.Ordinal))
            {
                CopyDirectory(dir, Directory.CreateDirectory(Path.Combine(to, name)).FullName, skip: "");
            }
        }

        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}

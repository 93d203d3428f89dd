using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.DevHost;
using CioSegment.IntegrationTests.Publish;

namespace CioSegment.IntegrationTests.Operations;

/// <summary>
/// Keeps the Grafana dashboard and the Prometheus alert rules honest: every metric their PromQL uses must be
/// one the pipeline really exports, checked against a live <c>/metrics</c> scrape of the DevHost after
/// traffic that walks every path (accepted, duplicate, dead-lettered, retried, rejected by Segment).
/// </summary>
public sealed partial class DashboardMetricsTests
{
    internal const string DashboardPath = "deploy/helm/ciosegment/files/dashboards/ciosegment.json";
    internal const string RulesPath = "deploy/helm/ciosegment/files/alerts/ciosegment-rules.yaml";
    private const string RunbookPath = "docs/operations.md";

    /// <summary>Not ours: exported by kafka_exporter (docker-compose, cluster) or made up by Prometheus itself.</summary>
    private static readonly HashSet<string> ExternalMetrics = new(StringComparer.Ordinal)
    {
        // kafka_exporter (danielqsj/kafka-exporter): broker-side consumer lag and offsets.
        "kafka_consumergroup_lag",
        "kafka_consumergroup_lag_sum",
        "kafka_topic_partition_current_offset",
        "kafka_brokers",

        // Prometheus: one series per scrape target.
        "up",
    };

    /// <summary>
    /// Exported, but they appear only after the first occurrence of a rare event the test does not provoke
    /// (an OpenTelemetry counter shows up on its first Add). Where the scrape lacks them, the services' source
    /// must create the instrument: <c>cio.transformer.aborts</c> becomes <c>cio_transformer_aborts_total</c>.
    /// </summary>
    private static readonly HashSet<string> AppearAfterFirstOccurrence = new(StringComparer.Ordinal)
    {
        // A transaction abort: rebalance with lost partitions, fenced producer, broker error mid-transaction.
        "cio_transformer_aborts_total",
    };

    private static readonly string[] ExpectedAlerts =
    [
        "CioSegmentConsumerLagGrowing", "CioSegmentDeadLetterRate", "CioSegmentSegmentErrors", "CioSegmentRetryStorm",
        "CioSegmentNoTraffic", "CioSegmentTransformerAborts", "CioSegmentIngestUnavailable", "CioSegmentEndToEndLatencyHigh",
        "CioSegmentDedupEvictedEarly", "CioSegmentPublisherStalled", "CioSegmentSourcesInvalid", "CioSegmentSourceHeld",
    ];

    [Fact]
    public async Task Every_metric_the_dashboard_and_the_alert_rules_use_is_exported_by_the_pipeline()
    {
        var used = UsedMetrics();
        Assert.Contains(used.Values, places => places.Any(p => p.StartsWith("panel ", StringComparison.Ordinal)));
        Assert.Contains(used.Values, places => places.Any(p => p.StartsWith("alert ", StringComparison.Ordinal)));

        var required = used.Keys.Where(n => !ExternalMetrics.Contains(n) && !AppearAfterFirstOccurrence.Contains(n)).ToHashSet(StringComparer.Ordinal);
        await using var segment = await SegmentStandIn.StartAsync(new() { KeepRequests = true });
        var firstGoodRequest = 0;
        segment.Answer = request =>
        {
            // Source "flaky": the event of person reject-me is refused for good (split, then dead-lettered),
            // the first other batch gets a retriable 503.
            if (request.Events.Any(e => e.ToJsonString().Contains("reject-me", StringComparison.Ordinal)))
            {
                return ValueTask.FromResult(new SegmentAnswer(400));
            }

            return ValueTask.FromResult(new SegmentAnswer(Interlocked.Increment(ref firstGoodRequest) == 1 ? 503 : 200));
        };

        await using var devHost = await DevHostProcess.StartAsync(
            $"--CioSegment:Sources:flaky:WebhookSigningKey={FlakySigningKey}",
            "--CioSegment:Sources:flaky:WriteKey=flaky-write-key",
            $"--CioSegment:Sources:flaky:SegmentEndpoint={segment.Url}",
            "--CioSegment:Publisher:Linger=00:00:00.050",
            "--CioSegment:Publisher:RetryBaseDelay=00:00:00.050",
            "--CioSegment:Publisher:RetryMaxDelay=00:00:00.500",
            "--CioSegment:Kafka:Consumer:statistics.interval.ms=1000",
            "--CioSegment:Kafka:Producer:statistics.interval.ms=1000");
        using var client = new HttpClient { BaseAddress = devHost.BaseAddress };
        var cancel = TestContext.Current.CancellationToken;

        var mappable = Webhook("ops-" + Guid.NewGuid().ToString("N"), "ops-person");
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, "demo", DemoSigningKey, mappable, cancel));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, "demo", DemoSigningKey, mappable, cancel));   // deduplicated
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, "demo", DemoSigningKey, """{"object_type":"email","metric":"sent","data":{}}""", cancel));   // dead-lettered by the transformer
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, "flaky", FlakySigningKey, Webhook("ops-" + Guid.NewGuid().ToString("N"), "flaky-person"), cancel));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, "flaky", FlakySigningKey, Webhook("ops-" + Guid.NewGuid().ToString("N"), "reject-me"), cancel));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(client, "demo", "not-the-key", mappable, cancel));
        Assert.Equal(HttpStatusCode.NotFound, await PostAsync(client, "no-such-source", DemoSigningKey, mappable, cancel));

        // Counters appear on their first increment and librdkafka statistics every second: scrape until
        // everything required is there, or the deadline says it will not come.
        var deadline = DateTime.UtcNow.AddSeconds(45);
        HashSet<string> exported;
        string exposition;
        while (true)
        {
            exposition = await client.GetStringAsync("/metrics", cancel);
            exported = ScrapedNames(exposition);
            if ((required.IsSubsetOf(exported) && Total(exposition, "cio_publisher_retries_total") > 0 && Total(exposition, "cio_publisher_dead_lettered_total") > 0)
                || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500, cancel);
        }

        var source = SourceText();
        var missing = required.Where(n => !exported.Contains(n))
            .Concat(AppearAfterFirstOccurrence.Where(n => used.ContainsKey(n) && !exported.Contains(n) && !InstrumentDefined(source, n)))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(
            missing.Count == 0,
            $"{missing.Count} metric(s) used by the dashboard or the alert rules are not exported by the pipeline:\n"
            + string.Join('\n', missing.Select(n => $"  {n}   (used in {string.Join(", ", used[n])})"
                + (AppearAfterFirstOccurrence.Contains(n) ? "; not scraped, and no instrument for it in src/" : "")))
            + $"\nUsed by the dashboard and the rules: {used.Count} names; scraped after traffic: {exported.Count} names. Allowed without a scrape: {string.Join(", ", ExternalMetrics.Order(StringComparer.Ordinal))}."
            + $"\nAccepted from the source code when not yet scraped: {string.Join(", ", AppearAfterFirstOccurrence.Order(StringComparer.Ordinal))}.");

        // The traffic did walk the rare paths it set out to walk (these counters start at 0).
        Assert.True(Total(exposition, "cio_publisher_retries_total") > 0, "no publisher retry was counted");
        Assert.True(Total(exposition, "cio_publisher_dead_lettered_total") > 0, "no publisher dead letter was counted");
        Assert.Contains(segment.Requests, r => r.Status == 400);
    }

    [Fact]
    public void The_dashboard_is_well_formed()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, DashboardPath)));
        var root = doc.RootElement;
        Assert.Equal("ciosegment", root.GetProperty("uid").GetString());
        Assert.Equal("CioSegment pipeline", root.GetProperty("title").GetString());
        Assert.True(root.GetProperty("schemaVersion").GetInt32() >= 39);
        Assert.Equal("30s", root.GetProperty("refresh").GetString());
        Assert.Equal("now-1h", root.GetProperty("time").GetProperty("from").GetString());
        var datasource = root.GetProperty("templating").GetProperty("list").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "datasource");
        Assert.Equal("datasource", datasource.GetProperty("type").GetString());
        Assert.Equal("prometheus", datasource.GetProperty("query").GetString());
        Assert.Equal("prometheus", datasource.GetProperty("current").GetProperty("value").GetString());
        var ns = root.GetProperty("templating").GetProperty("list").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "namespace");
        Assert.Equal("query", ns.GetProperty("type").GetString());
        Assert.False(ns.GetProperty("includeAll").GetBoolean(), "an All option would add two releases up");
        Assert.StartsWith("label_values(cio_", ns.GetProperty("definition").GetString(), StringComparison.Ordinal);

        var panels = Panels(root).ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        var rows = panels.Where(p => p.GetProperty("type").GetString() == "row").Select(p => p.GetProperty("title").GetString()!).ToList();
        Assert.Equal(["Overview", "Ingest", "Transformer", "Publisher", "Kafka", "Runtime", "Event inspector"], rows);
        var runbook = File.ReadAllText(Path.Combine(RepositoryPaths.Root, RunbookPath));
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            Assert.False(string.IsNullOrWhiteSpace(panel.TryGetProperty("description", out var d) ? d.GetString() : null), $"Panel '{title}' has no description.");
            if (panel.GetProperty("type").GetString() == "row")
            {
                Assert.Contains("### " + title + " row", runbook, StringComparison.Ordinal);
                continue;
            }

            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                Assert.Equal("${datasource}", target.GetProperty("datasource").GetProperty("uid").GetString());
                var expr = target.GetProperty("expr").GetString()!;
                Assert.NotEmpty(PromQl.MetricNames(expr));
                Assert.All(RangePattern().Matches(QuotedPattern().Replace(expr, "\"\"")), m => Assert.Equal("[$__rate_interval]", m.Value));
                Assert.DoesNotMatch(JobMatcherPattern(), expr);

                // The pipeline's own series are those of the release chosen in $namespace, so two releases never add up.
                foreach (var (metric, matchers) in PromQl.Selectors(expr).Where(s => !s.Metric.StartsWith("kafka_", StringComparison.Ordinal)))
                {
                    Assert.True(matchers.StartsWith("{namespace=~\"$namespace\"", StringComparison.Ordinal), $"Panel '{title}': {metric} is not filtered by $namespace in: {expr}");
                }
            }
        }
    }

    [Fact]
    public void Every_alert_rule_is_complete_and_its_runbook_section_exists()
    {
        var root = RepositoryPaths.Root;
        var yaml = File.ReadAllText(Path.Combine(root, RulesPath));
        Assert.DoesNotContain("\t", yaml, StringComparison.Ordinal);
        var topLevel = yaml.Split('\n').Where(l => l.Length > 0 && !char.IsWhiteSpace(l[0]) && !l.StartsWith('#')).ToList();
        Assert.Equal(["groups:"], topLevel.Select(l => l.TrimEnd('\r')));

        var anchors = MarkdownAnchors(File.ReadAllText(Path.Combine(root, RunbookPath)));
        var rules = RuleFile.Parse(yaml);
        Assert.Equal(ExpectedAlerts.Order(StringComparer.Ordinal), rules.Select(r => r.Alert!).Distinct().Order(StringComparer.Ordinal));
        foreach (var rule in rules)
        {
            Assert.NotEmpty(PromQl.MetricNames(rule.Expr ?? throw new Xunit.Sdk.XunitException($"{rule.Alert} has no expr")));
            Assert.Matches(@"^\d+[smh]$", rule.Value("for") ?? $"{rule.Alert}: no for");
            Assert.Contains(rule.Value("severity") ?? $"{rule.Alert}: no severity", new[] { "warning", "critical" });
            Assert.False(string.IsNullOrWhiteSpace(rule.Value("summary")), $"{rule.Alert}: no summary");
            Assert.False(string.IsNullOrWhiteSpace(rule.Value("description")), $"{rule.Alert}: no description");
            Assert.Equal("/d/ciosegment/ciosegment-pipeline", rule.Value("dashboard"));
            var runbook = rule.Value("runbook_url") ?? "";
            Assert.StartsWith(RunbookPath + "#", runbook, StringComparison.Ordinal);
            var anchor = runbook[(RunbookPath.Length + 1)..];
            Assert.True(anchors.Contains(anchor), $"{rule.Alert}: {RunbookPath} has no section with anchor #{anchor}.");
            Assert.Equal(rule.Alert!.ToLowerInvariant(), anchor);
        }
    }

    private const string DemoSigningKey = "demo-signing-key";   // the DevHost's built-in source
    private const string FlakySigningKey = "flaky-signing-key";

    private static string Webhook(string eventId, string person) =>
        "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":" + DateTimeOffset.UtcNow.ToUnixTimeSeconds()
        + ",\"data\":{\"action_id\":16,\"campaign_id\":1,\"delivery_id\":\"" + eventId + "-delivery\",\"subject\":\"Ops\","
        + "\"recipient\":\"" + person + "@example.com\",\"identifiers\":{\"id\":\"" + person + "\",\"email\":\"" + person + "@example.com\"}}}";

    private static Task<HttpStatusCode> PostAsync(HttpClient client, string sourceId, string signingKey, string body, CancellationToken cancel) =>
        SignedWebhooks.PostAsync(client, sourceId, signingKey, Encoding.UTF8.GetBytes(body), cancel);

    /// <summary>Metric name → where it is used (dashboard panel titles, alert names).</summary>
    private static Dictionary<string, SortedSet<string>> UsedMetrics()
    {
        var root = RepositoryPaths.Root;
        var used = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        void Add(string expr, string where)
        {
            foreach (var name in PromQl.MetricNames(expr))
            {
                if (!used.TryGetValue(name, out var places))
                {
                    used[name] = places = new SortedSet<string>(StringComparer.Ordinal);
                }

                places.Add(where);
            }
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, DashboardPath)));
        foreach (var panel in Panels(doc.RootElement))
        {
            if (panel.TryGetProperty("targets", out var targets))
            {
                foreach (var target in targets.EnumerateArray())
                {
                    Add(target.GetProperty("expr").GetString()!, $"panel \"{panel.GetProperty("title").GetString()}\"");
                }
            }
        }

        foreach (var rule in RuleFile.Parse(File.ReadAllText(Path.Combine(root, RulesPath))))
        {
            Add(rule.Expr ?? "", "alert " + rule.Alert);
        }

        return used;
    }

    /// <summary>Every panel, rows' nested panels included.</summary>
    internal static IEnumerable<JsonElement> Panels(JsonElement container)
    {
        if (!container.TryGetProperty("panels", out var panels))
        {
            yield break;
        }

        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            foreach (var nested in Panels(panel))
            {
                yield return nested;
            }
        }
    }

    /// <summary>The sum of every sample of <paramref name="name"/> in a Prometheus exposition.</summary>
    private static double Total(string exposition, string name) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is '{' or ' ')
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static HashSet<string> ScrapedNames(string exposition) =>
        exposition.Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l[..l.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);

    private static string SourceText()
    {
        var src = Path.Combine(RepositoryPaths.Root, "src");
        return string.Join('\n', Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));
    }

    /// <summary>
    /// The OpenTelemetry Prometheus exporter turns an instrument name's dots into underscores and adds
    /// <c>_total</c> to counters, so <c>cio_transformer_aborts_total</c> comes from a string literal
    /// <c>"cio.transformer.aborts"</c> (or <c>"cio.transformer_aborts"</c>, …).
    /// </summary>
    private static bool InstrumentDefined(string source, string prometheusName)
    {
        var stem = prometheusName.EndsWith("_total", StringComparison.Ordinal) ? prometheusName[..^"_total".Length] : prometheusName;
        var pattern = "\"" + string.Join("[._]", stem.Split('_').Select(Regex.Escape)) + "\"";
        return Regex.IsMatch(source, pattern);
    }

    /// <summary>GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.</summary>
    private static HashSet<string> MarkdownAnchors(string markdown) =>
        markdown.Split('\n')
            .Where(l => l.StartsWith('#'))
            .Select(l => l.TrimStart('#').Trim().ToLowerInvariant())
            .Select(h => new string(h.Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-'))
            .ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangePattern();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex QuotedPattern();

    [GeneratedRegex(@"\bjob\s*(=|!=|=~|!~)")]
    private static partial Regex JobMatcherPattern();
}

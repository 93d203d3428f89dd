using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CioSegment.Contracts;
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
        "CioSegmentDedupEvictedEarly", "CioSegmentPublisherStalled",
    ];

    [Fact]
    public async Task Every_metric_the_dashboard_and_the_alert_rules_use_is_exported_by_the_pipeline()
    {
        var used = UsedMetrics();
        Assert.Contains(used.Values, places => places.Any(p => p.StartsWith("panel ", StringComparison.Ordinal)));
        Assert.Contains(used.Values, places => places.Any(p => p.StartsWith("alert ", StringComparison.Ordinal)));

        var required = used.Keys.Where(n => !ExternalMetrics.Contains(n) && !AppearAfterFirstOccurrence.Contains(n)).ToHashSet(StringComparer.Ordinal);
        await using var segment = await FakeSegment.StartAsync();
        var firstGoodRequest = 0;
        segment.Answer = request =>
        {
            // Source "flaky": the event of person reject-me is refused for good (split, then dead-lettered),
            // the first other batch gets a retriable 503.
            if (request.Events.Any(e => e.ToJsonString().Contains("reject-me", StringComparison.Ordinal)))
            {
                return Task.FromResult((400, (TimeSpan?)null));
            }

            return Task.FromResult(Interlocked.Increment(ref firstGoodRequest) == 1 ? (503, (TimeSpan?)null) : (200, (TimeSpan?)null));
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

    [Theory]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))", "x_bucket")]
    [InlineData("sum(rate(a_total{code=~\"5..\", route=\"/webhooks/customerio/{sourceId}\"}[$__rate_interval])) by (job) / ignoring(code) group_left(instance) b", "a_total b")]
    [InlineData("topk(10, sum without (instance) (irate(c:recorded:rate5m[1h:5m] offset 1d))) or vector(0)", "c:recorded:rate5m")]
    [InlineData("(sum(d >= 0) > 1000) and on (topic) (sum by (topic) (deriv(e[15m])) > 0) unless on () count(f) > 0", "d e f")]
    [InlineData("absent_over_time(g{l=\"sum(rate(not_a_metric[5m]))\"}[30m]) and on () count(up{job=~\".*ingest.*\"} == 1) > 0", "g up")]
    [InlineData("label_replace(h, \"dst\", \"$1\", \"src\", \"(.*)\") * on (x) group_right h2 # comment naming no_metric\n+ SUM BY (le) (i) @ start() + 1e+3 - Inf", "h h2 i")]
    [InlineData("{__name__=\"j_total\", k=\"v\"} + {\"dotted.name\"} + l{} > bool 0x1F", "j_total dotted.name l")]
    public void The_name_extractor_finds_metric_names_and_nothing_else(string expr, string expected)
    {
        Assert.Equal(expected.Split(' ').Order(StringComparer.Ordinal), PromQl.MetricNames(expr).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("rate(x[5m]")]
    [InlineData("sum(x{a=\"b\")")]
    [InlineData("hisotgram_quantile(0.9, x)")]
    [InlineData("sum by le (x)")]
    [InlineData("{__name__=~\"x.*\"}")]
    public void The_name_extractor_refuses_what_it_cannot_read(string expr)
    {
        Assert.Throws<FormatException>(() => PromQl.MetricNames(expr));
    }

    [Fact]
    public void The_rule_reader_reads_block_plain_and_quoted_expressions()
    {
        var yaml = """
            groups:
              - name: g
                rules:
                  - alert: A
                    expr: |
                      sum(rate(a_total[5m]))

                        > 0
                    for: 5m
                  - alert: B
                    expr: b > 1 # trailing comment c_total
                  - expr: "c{x=\"1\"} > 0"
                    alert: C
                  - alert: D
                    expr: >-
                      d
                      > 1
                    labels:
                      severity: warning
                  - alert: E
                    expr: 'e{x=''y''}'
            """;
        var rules = RuleFile.Parse(yaml);
        Assert.Equal(["A", "B", "C", "D", "E"], rules.Select(r => r.Alert));
        Assert.Equal(["a_total", "b", "c", "d", "e"], rules.SelectMany(r => PromQl.MetricNames(r.Expr!)));
        Assert.Equal("5m", rules[0].Value("for"));
        Assert.Equal("warning", rules[3].Value("severity"));
        Assert.Contains("\n", rules[0].Expr!, StringComparison.Ordinal);
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

        var panels = Panels(root).ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        var rows = panels.Where(p => p.GetProperty("type").GetString() == "row").Select(p => p.GetProperty("title").GetString()!).ToList();
        Assert.Equal(["Overview", "Ingest", "Transformer", "Publisher", "Kafka", "Runtime"], rows);
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

    private static async Task<HttpStatusCode> PostAsync(HttpClient client, string sourceId, string signingKey, string body, CancellationToken cancel)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/webhooks/customerio/{sourceId}") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(Encoding.UTF8.GetBytes(signingKey), timestamp, bytes));
        using var response = await client.SendAsync(request, cancel);
        return response.StatusCode;
    }

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

    /// <summary>
    /// Metric names in a PromQL expression: identifiers that are not functions, aggregations or keywords, and
    /// not label names (inside <c>{...}</c>, <c>by (...)</c>, <c>without (...)</c>, <c>on (...)</c>,
    /// <c>ignoring (...)</c>, <c>group_left (...)</c>, <c>group_right (...)</c>), skipping strings, comments,
    /// ranges and Grafana variables. Anything it cannot read is a <see cref="FormatException"/>, so the check
    /// never passes by reading less than is there.
    /// </summary>
    internal static class PromQl
    {
        private static readonly HashSet<string> Functions = new(StringComparer.OrdinalIgnoreCase)
        {
            "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time", "ceil",
            "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month", "day_of_week",
            "day_of_year", "days_in_month", "deg", "delta", "deriv", "double_exponential_smoothing", "exp", "floor",
            "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
            "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "info", "irate",
            "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
            "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad",
            "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc",
            "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
            "timestamp", "vector", "year", "start", "end",
        };

        private static readonly HashSet<string> Aggregations = new(StringComparer.OrdinalIgnoreCase)
        {
            "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
            "limitk", "limit_ratio",
        };

        private static readonly HashSet<string> LabelListKeywords = new(StringComparer.OrdinalIgnoreCase)
        {
            "by", "without", "on", "ignoring", "group_left", "group_right",
        };

        private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
        {
            "bool", "offset", "and", "or", "unless", "atan2", "inf", "nan",
        };

        public static IReadOnlySet<string> MetricNames(string expr)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var depth = 0;
            var i = 0;
            while (i < expr.Length)
            {
                var c = expr[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                }
                else if (c == '#')
                {
                    i = SkipComment(expr, i);
                }
                else if (c is '"' or '\'' or '`')
                {
                    i = SkipString(expr, i);
                }
                else if (c == '{')
                {
                    i = ReadMatchers(expr, i, names);
                }
                else if (c == '[')
                {
                    i = SkipRange(expr, i);
                }
                else if (c == '$')
                {
                    i = SkipVariable(expr, i);
                }
                else if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < expr.Length && char.IsAsciiDigit(expr[i + 1])))
                {
                    i = SkipNumber(expr, i);
                }
                else if (IsIdentifierStart(c))
                {
                    var start = i;
                    i = SkipIdentifier(expr, i);
                    var word = expr[start..i];
                    var next = SkipWhitespace(expr, i);
                    var call = next < expr.Length && expr[next] == '(';
                    if (LabelListKeywords.Contains(word))
                    {
                        if (call)
                        {
                            i = SkipLabelList(expr, next);
                        }
                        else if (!word.StartsWith("group_", StringComparison.OrdinalIgnoreCase))
                        {
                            throw new FormatException($"'{word}' without a label list at {start} in: {expr}");
                        }
                    }
                    else if (Aggregations.Contains(word) || Keywords.Contains(word) || (call && Functions.Contains(word)))
                    {
                        // not a metric
                    }
                    else if (call)
                    {
                        throw new FormatException($"Unknown PromQL function '{word}' at {start} in: {expr}");
                    }
                    else
                    {
                        names.Add(word);
                    }
                }
                else
                {
                    depth += c == '(' ? 1 : c == ')' ? -1 : 0;
                    if (depth < 0)
                    {
                        throw new FormatException($"Unbalanced ')' at {i} in: {expr}");
                    }

                    i++;
                }
            }

            if (depth != 0)
            {
                throw new FormatException($"Unbalanced parentheses in: {expr}");
            }

            return names;
        }

        private static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c is '_' or ':';

        private static bool IsIdentifierPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or ':';

        private static int SkipIdentifier(string s, int i)
        {
            while (i < s.Length && IsIdentifierPart(s[i]))
            {
                i++;
            }

            return i;
        }

        private static int SkipWhitespace(string s, int i)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            return i;
        }

        private static int SkipComment(string s, int i)
        {
            var end = s.IndexOf('\n', i);
            return end < 0 ? s.Length : end + 1;
        }

        /// <summary>Returns the index after the closing quote; backslash escapes in "..." and '...'.</summary>
        private static int SkipString(string s, int i) => ReadString(s, i, out _);

        private static int ReadString(string s, int i, out string value)
        {
            var quote = s[i];
            var text = new StringBuilder();
            for (var j = i + 1; j < s.Length; j++)
            {
                if (s[j] == '\\' && quote != '`' && j + 1 < s.Length)
                {
                    text.Append(s[++j]);
                }
                else if (s[j] == quote)
                {
                    value = text.ToString();
                    return j + 1;
                }
                else
                {
                    text.Append(s[j]);
                }
            }

            throw new FormatException($"Unterminated string at {i} in: {s}");
        }

        /// <summary>
        /// <c>{label op "value", ...}</c>: label names are not metrics, but <c>__name__="x"</c> and a bare
        /// quoted name (<c>{"dotted.name"}</c>, Prometheus 3) are.
        /// </summary>
        private static int ReadMatchers(string s, int i, HashSet<string> names)
        {
            i++;
            while (true)
            {
                i = SkipWhitespace(s, i);
                if (i >= s.Length)
                {
                    throw new FormatException($"Unterminated '{{' in: {s}");
                }

                if (s[i] == '}')
                {
                    return i + 1;
                }

                if (s[i] == ',')
                {
                    i++;
                    continue;
                }

                string label;
                if (s[i] == '"')
                {
                    i = ReadString(s, i, out label);
                }
                else if (IsIdentifierStart(s[i]))
                {
                    var start = i;
                    i = SkipIdentifier(s, i);
                    label = s[start..i];
                }
                else
                {
                    throw new FormatException($"Unexpected '{s[i]}' in label matchers at {i} in: {s}");
                }

                i = SkipWhitespace(s, i);
                var op = i + 1 < s.Length && s[i] is '!' or '=' ? (s[i + 1] is '=' or '~' ? s.Substring(i, 2) : s[i..(i + 1)]) : "";
                if (op.Length == 0)
                {
                    // A bare quoted metric name.
                    names.Add(label);
                    continue;
                }

                i = SkipWhitespace(s, i + op.Length);
                if (i >= s.Length || s[i] is not ('"' or '\'' or '`'))
                {
                    throw new FormatException($"Label {label} {op} without a quoted value in: {s}");
                }

                i = ReadString(s, i, out var value);
                if (label == "__name__")
                {
                    if (op != "=")
                    {
                        throw new FormatException($"__name__{op} names no single metric; the check cannot follow it: {s}");
                    }

                    names.Add(value);
                }
            }
        }

        private static int SkipRange(string s, int i)
        {
            var end = s.IndexOf(']', i);
            return end < 0 ? throw new FormatException($"Unterminated '[' in: {s}") : end + 1;
        }

        /// <summary>Grafana variables: <c>$name</c>, <c>${name}</c>, <c>${name:format}</c>.</summary>
        private static int SkipVariable(string s, int i)
        {
            if (i + 1 < s.Length && s[i + 1] == '{')
            {
                var end = s.IndexOf('}', i);
                return end < 0 ? throw new FormatException($"Unterminated '${{' in: {s}") : end + 1;
            }

            return SkipIdentifier(s, i + 1);
        }

        /// <summary>Numbers and durations: 0.99, 1e+3, 0x1F, 5m, 1h30m.</summary>
        private static int SkipNumber(string s, int i)
        {
            var hex = i + 1 < s.Length && s[i] == '0' && s[i + 1] is 'x' or 'X';
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '.' or '_'))
            {
                if (!hex && s[i] is 'e' or 'E' && i + 1 < s.Length && s[i + 1] is '+' or '-')
                {
                    i++;
                }

                i++;
            }

            return i;
        }

        private static int SkipLabelList(string s, int open)
        {
            var close = s.IndexOf(')', open);
            if (close < 0)
            {
                throw new FormatException($"Unterminated label list in: {s}");
            }

            foreach (var label in s[(open + 1)..close].Split(','))
            {
                var trimmed = label.Trim();
                if (trimmed.Length > 0 && !Regex.IsMatch(trimmed, "^[a-zA-Z_][a-zA-Z0-9_]*$|^\"[^\"]*\"$"))
                {
                    throw new FormatException($"'{trimmed}' is not a label name in: {s}");
                }
            }

            return close + 1;
        }
    }

    /// <summary>
    /// Just enough of YAML to read a Prometheus rule file without a YAML library: the rules (list items
    /// starting with <c>alert:</c>/<c>record:</c>) and their scalar values, including <c>expr: |</c> and
    /// <c>&gt;-</c> blocks, plain scalars continued on more indented lines, and quoted scalars.
    /// </summary>
    internal sealed partial class RuleFile
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public string? Alert => Value("alert") ?? Value("record");

        public string? Expr => Value("expr");

        /// <summary>The value of a key anywhere in the rule (labels and annotations included).</summary>
        public string? Value(string key) => _values.TryGetValue(key, out var v) ? v : null;

        public static List<RuleFile> Parse(string yaml)
        {
            var lines = yaml.Replace("\r", "", StringComparison.Ordinal).Split('\n');
            var rules = new List<RuleFile>();
            RuleFile? current = null;
            var itemColumn = -1;
            for (var i = 0; i < lines.Length; i++)
            {
                var match = KeyLine().Match(lines[i]);
                if (!match.Success)
                {
                    continue;
                }

                var column = match.Groups["key"].Index;
                var key = match.Groups["key"].Value;
                var dash = match.Groups["dash"].Success;
                if (dash && (key is "alert" or "record" or "expr"))
                {
                    // A new list item under rules:.
                    current = new RuleFile();
                    rules.Add(current);
                    itemColumn = match.Groups["dash"].Index;
                }
                else if (current is not null && column <= itemColumn)
                {
                    current = null;   // left the rules list
                }

                if (current is null)
                {
                    continue;
                }

                var (value, last) = ReadScalar(lines, i, column, match.Groups["rest"].Value);
                if (value is not null)
                {
                    current._values[key] = value;
                }

                i = last;
            }

            return rules;
        }

        /// <summary>The scalar starting after <c>key:</c> on line <paramref name="i"/>, and the last line it spans.</summary>
        private static (string? Value, int Last) ReadScalar(string[] lines, int i, int keyColumn, string rest)
        {
            var continuation = new List<string>();
            var last = i;
            for (var j = i + 1; j < lines.Length; j++)
            {
                var line = lines[j];
                if (line.Trim().Length == 0)
                {
                    continuation.Add("");
                    continue;
                }

                if (line.Length - line.TrimStart().Length <= keyColumn)
                {
                    break;
                }

                continuation.Add(line);
                last = j;
            }

            // Trailing blank lines belong to whatever follows.
            continuation = continuation.Take(last - i).ToList();
            rest = rest.Trim();
            if (rest.Length == 0)
            {
                // A nested mapping (labels:, annotations:) or a plain scalar on the next lines.
                return continuation.Count > 0 && KeyLine().IsMatch(continuation[0]) ? (null, i) : (Join(continuation, " "), last);
            }

            if (rest[0] is '|' or '>')
            {
                var indent = continuation.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
                var block = continuation.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart());
                return (string.Join(rest[0] == '|' ? "\n" : " ", block).TrimEnd(), last);
            }

            if (rest[0] is '"' or '\'')
            {
                var text = string.Join(" ", new[] { rest }.Concat(continuation.Select(l => l.Trim())));
                var value = new StringBuilder();
                for (var k = 1; k < text.Length; k++)
                {
                    if (rest[0] == '"' && text[k] == '\\' && k + 1 < text.Length)
                    {
                        value.Append(text[++k] switch { 'n' => '\n', 't' => '\t', var other => other });
                    }
                    else if (rest[0] == '\'' && text[k] == '\'' && k + 1 < text.Length && text[k + 1] == '\'')
                    {
                        value.Append('\'');
                        k++;
                    }
                    else if (text[k] == rest[0])
                    {
                        return (value.ToString(), last);
                    }
                    else
                    {
                        value.Append(text[k]);
                    }
                }

                throw new FormatException($"Unterminated quoted scalar at line {i + 1}");
            }

            // A plain scalar: ' #' starts a comment.
            var plain = Join(new[] { rest }.Concat(continuation), " ");
            var comment = plain.IndexOf(" #", StringComparison.Ordinal);
            return (comment >= 0 ? plain[..comment].TrimEnd() : plain, last);
        }

        private static string Join(IEnumerable<string> lines, string separator) =>
            string.Join(separator, lines.Select(l => l.Trim()).Where(l => l.Length > 0));

        [GeneratedRegex(@"^(?<indent>\s*)(?:(?<dash>-)\s+)?(?<key>[A-Za-z_][A-Za-z0-9_]*):(?:\s+(?<rest>.*))?$")]
        private static partial Regex KeyLine();
    }
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CioSegment.IntegrationTests.Operations;

namespace CioSegment.IntegrationTests.Deploy;

/// <summary>
/// The Prometheus side of operations, checked with Prometheus' own promtool (deploy/tools/bin/promtool, extracted
/// by deploy/tools/install.sh): the alert rule file loads, its unit tests (deploy/prometheus/ciosegment-rules.test.yaml)
/// pass and cover every alert rule, and every query of the Grafana dashboard is valid PromQL.
/// </summary>
public sealed partial class PrometheusRulesTests
{
    private const string RulesPath = DashboardMetricsTests.RulesPath;
    private const string RuleTestsPath = "deploy/prometheus/ciosegment-rules.test.yaml";
    private const string DashboardPath = DashboardMetricsTests.DashboardPath;

    /// <summary>Grafana's built-in variables, as a dashboard query would see them over a one-hour range.</summary>
    private static readonly Dictionary<string, string> BuiltInVariables = new(StringComparer.Ordinal)
    {
        ["__rate_interval"] = "5m",
        ["__interval"] = "1m",
        ["__interval_ms"] = "60000",
        ["__range"] = "1h",
        ["__range_s"] = "3600",
        ["__range_ms"] = "3600000",
    };

    [Fact]
    public async Task Alert_rule_file_passes_promtool_check_rules()
    {
        var promtool = DeployTools.RequirePromtool();
        var rules = RuleFile.Parse(await File.ReadAllTextAsync(RepositoryPaths.InRoot(RulesPath), TestContext.Current.CancellationToken));

        var run = await DeployTools.RunAsync(promtool, ["check", "rules", RulesPath]);

        Assert.True(run.Succeeded, run.ToString());
        // promtool reads as many rules as the line-based reader the other operations tests rely on.
        Assert.Contains($"SUCCESS: {rules.Count} rules found", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Alert_rule_unit_tests_pass()
    {
        var promtool = DeployTools.RequirePromtool();

        var run = await DeployTools.RunAsync(promtool, ["test", "rules", RuleTestsPath]);

        Assert.True(run.Succeeded, run.ToString());
        Assert.Contains("SUCCESS", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// promtool passes a test that names an alert the rule file lacks (nothing fires, as "expected"), and is silent
    /// about rules no test mentions: this closes both gaps. Every alert name needs a case where it fires and one
    /// where it must not; every one of the rules (several share an alert name, told apart by their fixed labels,
    /// such as severity or dlq) needs a case where it is the one that fires.
    /// </summary>
    [Fact]
    public async Task Every_alert_rule_has_unit_tests_where_it_fires_and_where_it_does_not()
    {
        var cancel = TestContext.Current.CancellationToken;
        var rules = RuleFile.Parse(await File.ReadAllTextAsync(RepositoryPaths.InRoot(RulesPath), cancel));
        var cases = AlertTestCase.Parse(await File.ReadAllTextAsync(RepositoryPaths.InRoot(RuleTestsPath), cancel));
        var alerts = rules.Select(r => r.Alert!).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(alerts);
        Assert.NotEmpty(cases);

        var unknown = cases.Where(c => !alerts.Contains(c.AlertName)).Select(c => $"{c.AlertName} (line {c.Line})").ToList();
        Assert.True(unknown.Count == 0, $"{RuleTestsPath} tests alerts that {RulesPath} does not define: {string.Join(", ", unknown)}");

        var problems = new List<string>();
        foreach (var alert in alerts.Order(StringComparer.Ordinal))
        {
            if (!cases.Any(c => c.AlertName == alert && c.Firing.Count > 0))
            {
                problems.Add($"{alert}: no case where it fires");
            }

            if (!cases.Any(c => c.AlertName == alert && c.Firing.Count == 0))
            {
                problems.Add($"{alert}: no case where it must not fire (exp_alerts: [])");
            }
        }

        foreach (var rule in rules)
        {
            // An expected alert comes from this rule when every label it expects that the rule sets itself has the
            // rule's value (the other labels come from the expression).
            var fires = cases.Where(c => c.AlertName == rule.Alert)
                .SelectMany(c => c.Firing)
                .Any(labels => labels.All(l => rule.Value(l.Key) is not { } fixedValue || fixedValue == l.Value) && labels.ContainsKey("severity"));
            if (!fires)
            {
                var expr = rule.Expr!.Trim().Split('\n');
                problems.Add($"{rule.Alert} (severity {rule.Value("severity")}, expr {expr[0].Trim()}{(expr.Length > 1 ? " ..." : "")}): no case where this rule fires");
            }
        }

        Assert.True(problems.Count == 0, $"{RuleTestsPath} does not cover {RulesPath}:\n  " + string.Join("\n  ", problems));
    }

    [Fact]
    public void The_test_case_reader_reads_block_lists_and_refuses_flow_style()
    {
        var cases = AlertTestCase.Parse("""
            tests:
              - interval: 1m
                alert_rule_test:
                  - eval_time: 5m
                    alertname: A
                    exp_alerts: []
                  - alertname: B
                    eval_time: 6m
                    exp_alerts:
                      - exp_labels:
                          severity: warning
                          code: "401"
                        exp_annotations:
                          summary: 'x'
                      - exp_labels: {}
                  - exp_alerts:
                      - exp_labels:
                          # a comment
                          severity: critical
                    alertname: C
            """);

        Assert.Equal(["A", "B", "C"], cases.Select(c => c.AlertName));
        Assert.Empty(cases[0].Firing);
        Assert.Equal(2, cases[1].Firing.Count);
        Assert.Equal("401", cases[1].Firing[0]["code"]);
        Assert.Equal("warning", cases[1].Firing[0]["severity"]);
        Assert.Empty(cases[1].Firing[1]);
        Assert.Equal("critical", cases[2].Firing[0]["severity"]);

        Assert.Throws<FormatException>(() => AlertTestCase.Parse("tests:\n  - alert_rule_test:\n      - alertname: A\n        exp_alerts: [{exp_labels: {severity: warning}}]\n"));
        Assert.Throws<FormatException>(() => AlertTestCase.Parse("tests:\n  - alert_rule_test:\n      - eval_time: 5m\n        exp_alerts: []\n"));
    }

    [Fact]
    public async Task Unit_test_file_passes_yamllint()
    {
        var yamllint = DeployTools.RequireYamllint();

        var run = await DeployTools.RunAsync(yamllint, ["-c", ".yamllint.yaml", "-f", "parsable", "deploy/prometheus"]);

        Assert.True(run.Succeeded, run.ToString());
    }

    [Fact]
    public async Task Every_dashboard_query_is_valid_promql()
    {
        var promtool = DeployTools.RequirePromtool();
        var queries = DashboardQueries(await File.ReadAllTextAsync(RepositoryPaths.InRoot(DashboardPath), TestContext.Current.CancellationToken));
        Assert.True(queries.Count >= 40, $"only {queries.Count} queries found in {DashboardPath}");

        var failures = await InvalidQueriesAsync(promtool, queries);

        Assert.True(failures.Count == 0, $"{failures.Count} of the {queries.Count} queries of {DashboardPath} are not valid PromQL (promtool check rules):\n" + string.Join("\n", failures));
    }

    /// <summary>The check above would pass anything if promtool did not parse the expressions it is given.</summary>
    [Theory]
    [InlineData("sum(rate(x_total[$__rate_interval])")]
    [InlineData("sum by le (rate(x_bucket[$__rate_interval]))")]
    [InlineData("hisotgram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval])))")]
    [InlineData("rate(x_total[$no_such_variable])")]
    public async Task The_dashboard_query_check_names_the_panel_of_an_invalid_query(string broken)
    {
        var promtool = DeployTools.RequirePromtool();
        var dashboard = new TinyDashboard()
            .Panel("Fine panel", "sum(rate(cio_publisher_retries_total[$__rate_interval]))")
            .Panel("Broken panel", broken)
            .ToJson();
        var queries = DashboardQueries(dashboard);

        var failures = await InvalidQueriesAsync(promtool, queries);

        var failure = Assert.Single(failures);
        Assert.Contains("\"Broken panel\"", failure, StringComparison.Ordinal);
        Assert.Contains(broken, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Grafana_variables_are_replaced_by_the_dashboards_defaults()
    {
        var queries = DashboardQueries(File.ReadAllText(RepositoryPaths.InRoot(DashboardPath)));

        Assert.All(queries, q => Assert.DoesNotContain("$", q.Expr, StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Original.Contains("$__rate_interval", StringComparison.Ordinal) && q.Expr.Contains("[5m]", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Original.Contains("$transformer_group", StringComparison.Ordinal) && q.Expr.Contains("\"cio-transformer\"", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Original.Contains("$publisher_group", StringComparison.Ordinal) && q.Expr.Contains("\"cio-publisher\"", StringComparison.Ordinal));
    }

    /// <summary>A dashboard query: where it is (panel title and refId), its text, and the text with Grafana's variables replaced.</summary>
    private sealed record DashboardQuery(string Panel, string RefId, string Original, string Expr, string? Problem)
    {
        public override string ToString() => $"panel \"{Panel}\" (query {RefId}): {Original}";
    }

    /// <summary>
    /// Every target expr of every panel (rows' nested panels included), with <c>$__rate_interval</c>,
    /// <c>$__interval</c>, <c>$__range</c> and the dashboard's own variables (<c>$name</c>, <c>${name}</c>,
    /// <c>${name:format}</c>: their current value, e.g. cio-transformer) replaced. A variable that is neither is
    /// left in place and reported as the query's problem.
    /// </summary>
    private static List<DashboardQuery> DashboardQueries(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var variables = new Dictionary<string, string>(BuiltInVariables, StringComparer.Ordinal);
        if (root.TryGetProperty("templating", out var templating) && templating.TryGetProperty("list", out var list))
        {
            foreach (var variable in list.EnumerateArray())
            {
                if (variable.TryGetProperty("current", out var current) && current.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String)
                {
                    variables[variable.GetProperty("name").GetString()!] = value.GetString()!;
                }
            }
        }

        var queries = new List<DashboardQuery>();
        foreach (var panel in DashboardMetricsTests.Panels(root))
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            var title = panel.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
            foreach (var target in targets.EnumerateArray())
            {
                if (!target.TryGetProperty("expr", out var exprElement))
                {
                    continue;
                }

                var original = exprElement.GetString() ?? "";
                var unknown = new List<string>();
                var expr = VariablePattern().Replace(original, m =>
                {
                    var name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["plain"].Value;
                    if (variables.TryGetValue(name, out var replacement))
                    {
                        return replacement;
                    }

                    unknown.Add(m.Value);
                    return m.Value;
                });
                var refId = target.TryGetProperty("refId", out var r) ? r.GetString() ?? "?" : "?";
                queries.Add(new DashboardQuery(title, refId, original, expr, unknown.Count == 0 ? null : "unknown Grafana variable " + string.Join(", ", unknown)));
            }
        }

        return queries;
    }

    /// <summary>
    /// The queries that promtool refuses, each named (panel, refId, query) with promtool's reason. All queries go
    /// into one rule file as recording rules; only if promtool refuses it is each query checked on its own, to
    /// tell which ones are at fault.
    /// </summary>
    private static async Task<List<string>> InvalidQueriesAsync(string promtool, IReadOnlyList<DashboardQuery> queries)
    {
        var failures = queries.Where(q => q.Problem is not null).Select(q => $"{q}\n    {q.Problem}").ToList();
        var checkable = queries.Where(q => q.Problem is null).ToList();
        var all = await CheckAsRecordingRulesAsync(promtool, checkable);
        if (all.Succeeded)
        {
            Assert.Contains($"SUCCESS: {checkable.Count} rules found", all.Stdout, StringComparison.Ordinal);
            return failures;
        }

        foreach (var query in checkable)
        {
            var one = await CheckAsRecordingRulesAsync(promtool, [query]);
            if (!one.Succeeded)
            {
                var reason = string.Join(" ", (one.Stderr + "\n" + one.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(l => !l.StartsWith("Checking ", StringComparison.Ordinal)));
                failures.Add($"{query}\n    promtool: {reason}");
            }
        }

        if (failures.Count == 0)
        {
            failures.Add("promtool refused the queries together but accepted each alone:\n" + all);
        }

        return failures;
    }

    private static async Task<ToolRun> CheckAsRecordingRulesAsync(string promtool, IReadOnlyList<DashboardQuery> queries)
    {
        var yaml = new StringBuilder("groups:\n  - name: dashboard-queries\n    rules:\n");
        for (var i = 0; i < queries.Count; i++)
        {
            // A literal block scalar takes the query as it is: no quoting or escaping to get wrong.
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"      - record: dashboard:query_{i}\n        expr: |-\n");
            foreach (var line in queries[i].Expr.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
            {
                yaml.Append("          ").Append(line).Append('\n');
            }
        }

        var file = Path.Combine(Path.GetTempPath(), $"ciosegment-dashboard-queries-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml.ToString(), TestContext.Current.CancellationToken);
        try
        {
            return await DeployTools.RunAsync(promtool, ["check", "rules", file]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary><c>$name</c>, <c>${name}</c> or <c>${name:format}</c>; <c>$1</c> (a label_replace group) is not a variable.</summary>
    [GeneratedRegex(@"\$(?:\{(?<braced>[A-Za-z_]\w*)(?::[^}]*)?\}|(?<plain>[A-Za-z_]\w*))")]
    private static partial Regex VariablePattern();

    /// <summary>A minimal dashboard for the self-test of the query check.</summary>
    private sealed class TinyDashboard
    {
        private readonly List<object> _panels = [];

        public TinyDashboard Panel(string title, string expr)
        {
            _panels.Add(new { type = "timeseries", id = _panels.Count + 1, title, targets = new[] { new { refId = "A", expr } } });
            return this;
        }

        public string ToJson() => JsonSerializer.Serialize(new
        {
            panels = _panels,
            templating = new { list = new[] { new { name = "transformer_group", type = "textbox", current = new { value = "cio-transformer" } } } },
        });
    }

    /// <summary>
    /// One <c>alert_rule_test</c> case of a promtool unit-test file: the alert it names, the line it starts on, and
    /// the label sets it expects to fire (empty for <c>exp_alerts: []</c>). Read line by line (no YAML library in
    /// this project) from the block style the file uses; anything else, such as flow-style <c>exp_alerts</c>, is a
    /// <see cref="FormatException"/>, so the coverage check never passes by reading less than is there.
    /// </summary>
    private sealed partial class AlertTestCase
    {
        public string AlertName { get; private set; } = "";

        public int Line { get; private init; }

        public List<Dictionary<string, string>> Firing { get; } = [];

        public static List<AlertTestCase> Parse(string yaml)
        {
            var lines = yaml.Replace("\r", "", StringComparison.Ordinal).Split('\n');
            var cases = new List<AlertTestCase>();
            AlertTestCase? current = null;
            var caseColumn = -1;
            var inRuleTests = -1;   // the column of "alert_rule_test:" while inside it
            for (var i = 0; i < lines.Length; i++)
            {
                var match = KeyLine().Match(lines[i]);
                if (!match.Success)
                {
                    continue;
                }

                var key = match.Groups["key"].Value;
                var column = match.Groups["key"].Index;
                var rest = StripComment(match.Groups["rest"].Value);
                var dash = match.Groups["dash"].Success ? match.Groups["dash"].Index : -1;
                if (inRuleTests >= 0 && (dash >= 0 ? dash : column) <= inRuleTests)
                {
                    inRuleTests = -1;
                    current = null;
                }

                if (key == "alert_rule_test")
                {
                    inRuleTests = dash >= 0 ? dash : column;
                    continue;
                }

                if (inRuleTests < 0)
                {
                    continue;
                }

                if (dash >= 0 && (current is null || dash <= caseColumn))
                {
                    current = new AlertTestCase { Line = i + 1 };
                    cases.Add(current);
                    caseColumn = dash;
                }

                if (current is null)
                {
                    continue;
                }

                switch (key)
                {
                    case "alertname":
                        current.AlertName = Unquote(rest);
                        break;
                    case "exp_alerts" when rest is "[]":
                        break;
                    case "exp_alerts" when rest.Length > 0:
                        throw new FormatException($"line {i + 1}: exp_alerts in flow style is not read here; write it as a block list");
                    case "exp_labels":
                        current.Firing.Add(ReadLabels(lines, ref i, column, rest));
                        break;
                }
            }

            var nameless = cases.FirstOrDefault(c => c.AlertName.Length == 0);
            if (nameless is not null)
            {
                throw new FormatException($"line {nameless.Line}: an alert_rule_test case without alertname");
            }

            return cases;
        }

        private static Dictionary<string, string> ReadLabels(string[] lines, ref int i, int keyColumn, string rest)
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (rest is "{}")
            {
                return labels;
            }

            if (rest.Length > 0)
            {
                throw new FormatException($"line {i + 1}: exp_labels in flow style is not read here; write it as a block mapping");
            }

            while (i + 1 < lines.Length)
            {
                var line = lines[i + 1];
                var trimmed = line.TrimStart();
                if (trimmed.Length == 0 || trimmed.StartsWith('#'))
                {
                    i++;
                    continue;
                }

                if (line.Length - trimmed.Length <= keyColumn)
                {
                    break;
                }

                var match = KeyLine().Match(line);
                if (!match.Success || match.Groups["dash"].Success)
                {
                    throw new FormatException($"line {i + 2}: not a 'label: value' line in exp_labels");
                }

                labels[match.Groups["key"].Value] = Unquote(StripComment(match.Groups["rest"].Value));
                i++;
            }

            return labels;
        }

        private static string StripComment(string value)
        {
            value = value.Trim();
            if (value.StartsWith('"') || value.StartsWith('\''))
            {
                var end = value.IndexOf(value[0], 1);
                return end > 0 ? value[..(end + 1)] : value;
            }

            var comment = value.IndexOf(" #", StringComparison.Ordinal);
            return (comment >= 0 ? value[..comment] : value).Trim();
        }

        private static string Unquote(string value) =>
            value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0] ? value[1..^1] : value;

        [GeneratedRegex(@"^\s*(?:(?<dash>-)\s+)?(?<key>[A-Za-z_][A-Za-z0-9_]*):(?:\s+(?<rest>.*))?$")]
        private static partial Regex KeyLine();
    }
}

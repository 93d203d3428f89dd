namespace CioSegment.IntegrationTests.Operations;

/// <summary>The PromQL metric-name extractor and the rule-file reader the dashboard and alert checks rely on.</summary>
public sealed class PromQlTests
{
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

    [Fact]
    public void Selectors_come_with_their_matchers_as_written()
    {
        var selectors = PromQl.Selectors("sum by (le) (rate(a_bucket{ns=~\"$ns\", route=\"/x/{id}\"}[5m])) / ignoring (le) b + c {}");

        Assert.Equal([("a_bucket", "{ns=~\"$ns\", route=\"/x/{id}\"}"), ("b", ""), ("c", "{}")], selectors);
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
}

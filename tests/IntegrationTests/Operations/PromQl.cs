using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CioSegment.IntegrationTests.Operations;

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

    public static IReadOnlySet<string> MetricNames(string expr) => Read(expr, selectors: null);

    /// <summary>Every selector that names its metric: the name and its matchers as written (<c>{...}</c>, or empty).</summary>
    public static IReadOnlyList<(string Metric, string Matchers)> Selectors(string expr)
    {
        var selectors = new List<(string, string)>();
        Read(expr, selectors);
        return selectors;
    }

    private static HashSet<string> Read(string expr, List<(string Metric, string Matchers)>? selectors)
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
                    var matchers = "";
                    if (next < expr.Length && expr[next] == '{')
                    {
                        i = ReadMatchers(expr, next, names);
                        matchers = expr[next..i];
                    }

                    selectors?.Add((word, matchers));
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

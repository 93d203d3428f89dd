using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CioSegment.IntegrationTests.Operations;

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

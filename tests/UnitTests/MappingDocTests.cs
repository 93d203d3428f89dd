using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CioSegment.Mapping;
using CioSegment.Processor.Cli;

namespace CioSegment.UnitTests;

/// <summary>
/// docs/mapping.md is executable: each <c>```json map [flags]</c> block is a webhook given to the <c>map</c>
/// command with those flags (<c>&lt; path</c> reads a file of the repository instead of the block), and the
/// block after it is the answer: <c>json track</c> (exit 0, stdout), <c>json dead-letter</c> (exit 2, stderr)
/// or <c>json skipped</c> (exit 3, stderr), compared as JSON. The event-name table is checked row by row.
/// </summary>
public partial class MappingDocTests
{
    private static readonly string Doc = File.ReadAllText(RepositoryPaths.InRoot("docs/mapping.md")).ReplaceLineEndings("\n");

    public static TheoryData<int> Examples => new(Enumerable.Range(0, ExampleBlock().Matches(Doc).Count));

    [Fact]
    public void Every_map_block_is_followed_by_its_answer()
    {
        var inputs = Regex.Count(Doc, "^```json map", RegexOptions.Multiline);
        Assert.True(inputs >= 20, $"docs/mapping.md has only {inputs} examples");
        Assert.Equal(inputs, ExampleBlock().Matches(Doc).Count);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_maps_as_the_doc_says(int index)
    {
        var match = ExampleBlock().Matches(Doc)[index];
        var line = Doc.AsSpan(0, match.Index).Count('\n') + 1;
        var args = match.Groups["flags"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var stdin = Encoding.UTF8.GetBytes(match.Groups["input"].Value);
        if (args.IndexOf("<") is var redirect and >= 0)
        {
            stdin = File.ReadAllBytes(RepositoryPaths.InRoot(args[redirect + 1]));
            args.RemoveRange(redirect, 2);
        }

        var stdout = new MemoryStream();
        var stdoutText = new StringWriter();
        var stderr = new StringWriter();
        var exit = ProcessorCommandLine.Run(["map", .. args], () => new MemoryStream(stdin), stdout, stdoutText, stderr);

        var kind = match.Groups["kind"].Value;
        var (expectedExit, actualText) = kind switch
        {
            "track" => (MapCommand.ExitMapped, Encoding.UTF8.GetString(stdout.ToArray()) + stdoutText),
            "dead-letter" => (MapCommand.ExitUnmappable, stderr.ToString()),
            _ => (MapCommand.ExitSkipped, stderr.ToString()),
        };
        Assert.True(expectedExit == exit, $"docs/mapping.md line {line}: expected exit {expectedExit} ({kind}), got {exit}\n{stdoutText}{Encoding.UTF8.GetString(stdout.ToArray())}{stderr}");

        var expected = JsonNode.Parse(match.Groups["answer"].Value);
        var actual = JsonNode.Parse(actualText);
        Assert.True(JsonNode.DeepEquals(expected, actual), $"docs/mapping.md line {line}: the doc says\n{expected}\nbut map answers\n{actual}");
    }

    [Fact]
    public void Event_name_table_matches_the_mapper()
    {
        var section = Doc[Doc.IndexOf("\n## Event name", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 1, StringComparison.Ordinal)];
        var rows = NameRow().Matches(section);
        Assert.True(rows.Count >= 10, $"only {rows.Count} rows in the event-name table");
        Assert.All(rows, row => Assert.Equal(row.Groups["event"].Value, EventNames.Of(row.Groups["type"].Value, row.Groups["metric"].Value)));
    }

    [Fact]
    public void Every_anchor_names_a_heading()
    {
        var headings = Regex.Matches(Doc, "^#+ (.+)$", RegexOptions.Multiline).Select(m => GitHubAnchor(m.Groups[1].Value)).ToHashSet();
        var anchors = Regex.Matches(Doc, @"\]\(#([^)]+)\)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(anchors);
        Assert.All(anchors, a => Assert.True(headings.Contains(a), $"#{a} names no heading; headings: {string.Join(", ", headings)}"));
    }

    /// <summary>GitHub's heading anchors: lower case, punctuation but '-' and '_' dropped, spaces to '-'.</summary>
    private static string GitHubAnchor(string heading) =>
        new string(heading.ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ' ').ToArray()).Replace(' ', '-');

    [GeneratedRegex("^```json map(?<flags>[^\\n]*)\\n(?<input>.*?)^```\\n\\n```json (?<kind>track|dead-letter|skipped)\\n(?<answer>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex ExampleBlock();

    [GeneratedRegex(@"^\| `(?<type>[^`]+)` \| `(?<metric>[^`]+)` \| `(?<event>[^`]+)` \|$", RegexOptions.Multiline)]
    private static partial Regex NameRow();
}

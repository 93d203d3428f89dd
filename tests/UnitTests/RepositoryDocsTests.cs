using System.Text.RegularExpressions;

namespace CioSegment.UnitTests;

/// <summary>README.md and docs/*.md link only to files inside the repository, and every such file exists.</summary>
public partial class RepositoryDocsTests
{
    public static TheoryData<string> Documents =>
        new(new[] { "README.md" }.Concat(Directory.GetFiles(RepositoryPaths.InRoot("docs"), "*.md").Select(f => "docs/" + Path.GetFileName(f)).Order(StringComparer.Ordinal)));

    [Theory]
    [MemberData(nameof(Documents))]
    public void Links_stay_inside_the_repository_and_resolve(string document)
    {
        var path = RepositoryPaths.InRoot(document);
        var root = Path.GetFullPath(RepositoryPaths.Root) + Path.DirectorySeparatorChar;
        var text = File.ReadAllText(path);
        foreach (Match link in MarkdownLink().Matches(text))
        {
            var target = link.Groups["target"].Value;
            Assert.False(Uri.TryCreate(target, UriKind.Absolute, out _) || target.StartsWith("//", StringComparison.Ordinal), $"{document}: '{target}' leaves the repository");
            var file = target.Split('#')[0];
            if (file.Length == 0)
            {
                continue;
            }

            var resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, file));
            Assert.True(resolved.StartsWith(root, StringComparison.Ordinal), $"{document}: '{target}' points outside the repository");
            Assert.True(File.Exists(resolved) || Directory.Exists(resolved), $"{document}: '{target}' does not exist");
        }
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();
}

using System.Text.Json.Nodes;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>
/// Every webhook under <c>examples/webhooks/</c> maps, with Body Content on, to the track event stored
/// beside the tests in <c>Golden/examples/</c> under the same name (what <c>map --body-content --pretty
/// --received-at 2024-03-01T12:00:00.250Z</c> prints). A new example needs its expected event.
/// </summary>
public class GoldenExampleTests
{
    public static TheoryData<string> Examples =>
        new(Directory.GetFiles(RepositoryPaths.InRoot("examples/webhooks"), "*.json").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_maps_to_its_golden_track_event(string file)
    {
        var expectedPath = Path.Combine(AppContext.BaseDirectory, "Golden", "examples", file);
        Assert.True(File.Exists(expectedPath), $"examples/webhooks/{file} has no expected track event in tests/UnitTests/Golden/examples/{file}");

        var body = File.ReadAllText(RepositoryPaths.InRoot("examples/webhooks/" + file));
        var (result, actual) = Mapping.Map(body, SourceSettings.ForMapping(bodyContent: true));
        var expected = JsonNode.Parse(File.ReadAllText(expectedPath));

        Assert.True(JsonNode.DeepEquals(expected, actual), $"{file}: {result.Outcome} {result.Error}\nexpected\n{expected}\nactual\n{actual}");
    }

    [Fact]
    public void Every_golden_event_has_its_example()
    {
        var expected = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Golden", "examples"), "*.json").Select(Path.GetFileName);
        Assert.All(expected, file => Assert.True(File.Exists(RepositoryPaths.InRoot("examples/webhooks/" + file)), $"Golden/examples/{file} has no examples/webhooks/{file}"));
    }
}

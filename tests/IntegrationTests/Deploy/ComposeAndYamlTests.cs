namespace CioSegment.IntegrationTests.Deploy;

/// <summary>
/// The plain YAML of the operations files: docker-compose.yml must be a valid Compose file, and the
/// compose files and the chart's values files must pass yamllint with the repository's .yamllint.yaml
/// (the chart's templates/ are Go templates, not YAML, and are left to helm lint).
/// </summary>
public sealed class ComposeAndYamlTests
{
    [Fact]
    public void The_compose_topic_script_creates_exactly_the_pipeline_topics_with_their_partitioning()
    {
        var script = File.ReadAllLines(RepositoryPaths.InRoot("deploy/compose/kafka/create-topics.sh"));
        var created = script
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^create\s+(\S+)\s+""\$(\w+)""").Groups)
            .Where(g => g[0].Success)
            .ToDictionary(g => g[1].Value, g => g[2].Value, StringComparer.Ordinal);

        Assert.Equal(CioSegment.Contracts.Topics.All.Select(t => t.Name).Order(StringComparer.Ordinal), created.Keys.Order(StringComparer.Ordinal));
        Assert.All(CioSegment.Contracts.Topics.All, t => Assert.Equal(t.PartitionedLikeRaw ? "PARTITIONS" : "DLQ_PARTITIONS", created[t.Name]));
    }

    [Fact]
    public async Task Docker_compose_file_is_valid()
    {
        var compose = DeployTools.RequireDockerCompose();
        Assert.True(File.Exists(RepositoryPaths.InRoot("docker-compose.yml")), "docker-compose.yml is missing at the repository root " + RepositoryPaths.Root);

        // config -q parses, interpolates and validates the file against the Compose schema; it needs no Docker engine.
        var run = await DeployTools.RunAsync(compose, ["-f", "docker-compose.yml", "config", "-q"]);

        Assert.True(run.Succeeded, run.ToString());
    }

    [Fact]
    public async Task Compose_files_pass_yamllint()
    {
        var yamllint = DeployTools.RequireYamllint();
        Assert.True(File.Exists(RepositoryPaths.InRoot("docker-compose.yml")), "docker-compose.yml is missing at the repository root " + RepositoryPaths.Root);
        var paths = new List<string> { "docker-compose.yml" };
        if (Directory.Exists(RepositoryPaths.InRoot("deploy/compose")))
        {
            paths.Add("deploy/compose");
        }

        var run = await DeployTools.RunAsync(yamllint, ["-c", ".yamllint.yaml", "-f", "parsable", .. paths]);

        Assert.True(run.Succeeded, run.ToString());
    }

    [Fact]
    public async Task Chart_values_files_pass_yamllint()
    {
        var yamllint = DeployTools.RequireYamllint();

        var run = await DeployTools.RunAsync(
            yamllint,
            ["-c", ".yamllint.yaml", "-f", "parsable", $"{DeployTools.ChartPath}/Chart.yaml", $"{DeployTools.ChartPath}/values.yaml", $"{DeployTools.ChartPath}/ci", $"{DeployTools.ChartPath}/files/alerts"]);

        Assert.True(run.Succeeded, run.ToString());
    }

    [Fact]
    public async Task Yamllint_configuration_catches_broken_yaml()
    {
        var yamllint = DeployTools.RequireYamllint();

        // A duplicated key: the configuration must not be so relaxed that it passes anything.
        var run = await DeployTools.RunAsync(yamllint, ["-c", ".yamllint.yaml", "-f", "parsable", "-"], stdin: "services:\n  a: 1\n  a: 2\n");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("key-duplicates", run.Stdout, StringComparison.Ordinal);
    }
}

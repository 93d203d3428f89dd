using System.CommandLine;

namespace CioSegment.Processor.Cli;

/// <summary>
/// The processor's commands: <c>map</c> previews one mapping, <c>replay</c> writes dead letters back. Without
/// a command, <c>Program.cs</c> runs the pipeline stages as a host, with the arguments as configuration
/// (<c>--CioSegment:Kafka:BootstrapServers=...</c>).
/// </summary>
public static class ProcessorCommandLine
{
    private static readonly HashSet<string> Commands = new(StringComparer.Ordinal) { "map", "replay", "-h", "--help", "-?" };

    public static RootCommand Create(Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr) =>
        new("CioSegment processor: turns Customer.io reporting webhooks into Segment track calls; `map` previews one mapping, `replay` writes dead letters back. "
            + "Without a command it runs the transformer and the Segment publisher, configured by appsettings.json, environment variables "
            + "and --Section:Key=value arguments.")
        {
            MapCommand.Create(stdin, stdout, stderr),
            ReplayCommand.Create(stdoutText, stderr),
        };

    /// <summary>Whether <paramref name="args"/> name a command (or ask for help); otherwise they configure the host (Program.cs).</summary>
    public static bool IsCommand(string[] args) => args.Length > 0 && Commands.Contains(args[0]);

    /// <summary>Runs the command in <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args, Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        var parse = Create(stdin, stdout, stdoutText, stderr).Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = stdoutText, Error = stderr });
    }
}

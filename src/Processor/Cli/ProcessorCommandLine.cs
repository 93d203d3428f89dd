using System.CommandLine;
using Microsoft.Extensions.Hosting;

namespace CioSegment.Processor.Cli;

/// <summary>
/// The processor's command line: without a command it runs the pipeline stages (configuration from
/// appsettings, environment and <c>--Section:Key=value</c> arguments); <c>map</c> previews one mapping.
/// </summary>
public static class ProcessorCommandLine
{
    public static RootCommand Create(Func<Stream> stdin, Stream stdout, TextWriter stderr)
    {
        var root = new RootCommand("CioSegment processor: turns Customer.io reporting webhooks into Segment track calls. Without a command, runs the transformer.")
        {
            MapCommand.Create(stdin, stdout, stderr),
        };
        root.TreatUnmatchedTokensAsErrors = false;
        root.SetAction(parse => RunHost([.. parse.UnmatchedTokens]));
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args, Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        var root = Create(stdin, stdout, stderr);
        var parse = root.Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = stdoutText, Error = stderr });
    }

    private static int RunHost(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.AddTransformer();
        using var host = builder.Build();
        host.Run();
        return Environment.ExitCode;
    }
}

using System.CommandLine;

namespace CioSegment.Processor.Cli;

/// <summary>The processor's command line.</summary>
public static class ProcessorCommandLine
{
    public static RootCommand Create(Func<Stream> stdin, Stream stdout, TextWriter stderr)
    {
        var root = new RootCommand("CioSegment processor: turns Customer.io reporting webhooks into Segment track calls.")
        {
            MapCommand.Create(stdin, stdout, stderr),
        };
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args, Func<Stream> stdin, Stream stdout, TextWriter stdoutText, TextWriter stderr)
    {
        var root = Create(stdin, stdout, stderr);
        var parse = root.Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = stdoutText, Error = stderr });
    }
}

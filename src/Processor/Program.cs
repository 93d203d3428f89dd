using CioSegment.Processor.Cli;

using var stdout = Console.OpenStandardOutput();
return ProcessorCommandLine.Run(args, Console.OpenStandardInput, stdout, Console.Out, Console.Error);

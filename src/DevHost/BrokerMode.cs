using System.Globalization;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevDoubles.SchemaRegistry;

namespace CioSegment.DevHost;

/// <summary>
/// <c>dotnet run --project src/DevHost -- broker [--partitions N]</c>: the embedded development broker with
/// the pipeline's topics, and the Schema Registry double, as a process of their own, so that ingest and
/// processor can run as separate processes against them, as in production. Prints two lines other tools
/// read (<c>bootstrap.servers=...</c>, <c>schema.registry.url=...</c>) and runs until stopped.
/// </summary>
internal static class BrokerMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var partitions = 12;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--partitions")
            {
                partitions = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreatePipelineTopics(partitions);
        await using var registry = await DevSchemaRegistryServer.StartAsync();

        Console.WriteLine($"# {EmbeddedKafkaBroker.Label}");
        Console.WriteLine($"# {DevSchemaRegistry.Label}");
        Console.WriteLine($"bootstrap.servers={broker.BootstrapServers}");
        Console.WriteLine($"schema.registry.url={registry.Url}");
        Console.Out.Flush();

        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.TrySetResult();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.TrySetResult();
        });
        await stop.Task;
        return 0;
    }
}

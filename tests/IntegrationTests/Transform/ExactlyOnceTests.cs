using System.Diagnostics;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>
/// Exactly-once semantics need a broker with real transactions; on the embedded development broker these
/// are skipped with the reason (see <see cref="KafkaFixture.SkipUnlessTransactions"/>).
/// </summary>
public sealed class ExactlyOnceTests(KafkaFixture kafka)
{
    private static string Webhook(string eventId, string person) =>
        "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1623848646,"
        + "\"data\":{\"delivery_id\":\"" + eventId + "\",\"identifiers\":{\"id\":\"" + person + "\"}}}";

    [Fact]
    public async Task Output_and_offsets_commit_together_so_a_restart_neither_repeats_nor_loses()
    {
        kafka.SkipUnlessTransactions();
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        var first = await harness.StartProcessorAsync("a", guarantee: "ExactlyOnce");
        for (var i = 0; i < 200; i++)
        {
            harness.Send(Webhook($"x{i}", $"p{i % 7}"), $"p{i % 7}");
        }

        harness.Flush();
        Assert.Equal(200, harness.ReadSink(200, TimeSpan.FromSeconds(60)).Count);
        await TransformerHarness.StopAsync(first);

        // The committed offsets came with the transaction: a new instance starts after them.
        await harness.StartProcessorAsync("b", guarantee: "ExactlyOnce");
        harness.Send(Webhook("after", "p1"), "p1");
        harness.Flush();
        var sink = harness.ReadSink(201, TimeSpan.FromSeconds(60));
        Assert.Equal(201, sink.Count);
        Assert.Equal(201, sink.Select(s => s.Track.MessageId).Distinct().Count());
    }

    [Fact]
    public async Task A_processor_killed_mid_transaction_leaves_no_duplicate_in_the_sink()
    {
        kafka.SkipUnlessTransactions();
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        var dll = Path.Combine(AppContext.BaseDirectory, "CioSegment.Processor.dll");
        string[] Args(string instance) =>
        [
            dll,
            $"--CioSegment:Kafka:BootstrapServers={kafka.BootstrapServers}",
            $"--CioSegment:SchemaRegistry:Url={harness.RegistryUrl}",
            $"--CioSegment:Transformer:InputTopic={harness.Raw}",
            $"--CioSegment:Transformer:SinkTopic={harness.Sink}",
            $"--CioSegment:Transformer:DeadLetterTopic={harness.Dlq}",
            $"--CioSegment:Transformer:ChangelogTopic={harness.Changelog}",
            $"--CioSegment:Transformer:GroupId={harness.Group}",
            $"--CioSegment:Transformer:TransactionalId={harness.Group}-{instance}",
            "--CioSegment:Transformer:ProcessingGuarantee=ExactlyOnce",
            "--CioSegment:Transformer:CommitInterval=00:00:02",
            "--CioSegment:Sources:acme:WebhookSigningKey=k",
            "--CioSegment:Sources:acme:WriteKey=w",

            // Only the transformer, on this test's topics and group: the processor's publisher would join the
            // default cio-publisher group on cio.segment.track of whatever cluster KAFKA_BOOTSTRAP_SERVERS
            // names, and deliver to api.segment.io. Disabled, and pointed at a closed loopback port besides.
            "--CioSegment:Publisher:Enabled=false",
            "--CioSegment:Sources:acme:SegmentEndpoint=http://127.0.0.1:9",
            "--urls", "http://127.0.0.1:0",
        ];

        using (var victim = Process.Start(new ProcessStartInfo("dotnet", Args("same")) { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            for (var i = 0; i < 500; i++)
            {
                harness.Send(Webhook($"k{i}", $"p{i % 11}"), $"p{i % 11}");
            }

            harness.Flush();
            await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
            victim.Kill(entireProcessTree: true);   // SIGKILL, mid-transaction with a 2 s commit interval
            await victim.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        // The same transactional id fences the dead instance's open transaction, which aborts.
        await harness.StartProcessorAsync("same", guarantee: "ExactlyOnce");
        var sink = harness.ReadSink(500, TimeSpan.FromSeconds(90));
        Assert.Equal(500, sink.Count);
        Assert.Equal(500, sink.Select(s => s.Track.MessageId).Distinct().Count());
    }
}

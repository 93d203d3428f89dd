using System.Diagnostics;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Processor;
using CioSegment.Processor.Transform;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>
/// Exactly-once semantics need a broker with real transactions; on the embedded development broker these
/// are skipped with the reason (see <see cref="KafkaFixture.SkipUnlessTransactions"/>). They run alone: the
/// restart test counts the transformer's metrics, which every in-process transformer reports to.
/// </summary>
[Collection(ExactlyOnceCollection.Name)]
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

        // The committed offsets came with the transaction: they cover the whole raw topic, so a new instance
        // starts after them (a restored changelog would hide reprocessing from the sink; it must not be needed).
        var (committed, end) = await harness.RawOffsetsAsync();
        Assert.Equal(end, committed);

        using var measurements = new MeterMeasurements(ProcessorTelemetry.Meter);
        await harness.StartProcessorAsync("b", guarantee: "ExactlyOnce");
        harness.Send(Webhook("after", "p1"), "p1");
        harness.Flush();
        var sink = harness.ReadSink(201, TimeSpan.FromSeconds(60));
        Assert.Equal(201, sink.Count);
        Assert.Equal(201, sink.Select(s => s.Track.MessageId).Distinct().Count());
        long Outcome(string outcome) => (long)measurements.Where("outcome", outcome).Where(m => m.Instrument == "cio.transformer.events").Sum(m => m.Value);
        Assert.Equal(1, Outcome("mapped"));
        Assert.Equal(0, Outcome("deduplicated"));   // nothing was read twice
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

            // One transaction for the whole run: whatever the victim wrote is in its open transaction when it dies.
            "--CioSegment:Transformer:CommitInterval=00:01:00",
            "--CioSegment:Transformer:CommitEveryRecords=1000000",
            "--CioSegment:Sources:acme:WebhookSigningKey=k",
            "--CioSegment:Sources:acme:WriteKey=w",

            // Only the transformer, on this test's topics and group: the processor's publisher would join the
            // default cio-publisher group on cio.segment.track of whatever cluster KAFKA_BOOTSTRAP_SERVERS
            // names, and deliver to api.segment.io. Disabled, and pointed at a closed loopback port besides.
            "--CioSegment:Publisher:Enabled=false",
            "--CioSegment:Sources:acme:SegmentEndpoint=http://127.0.0.1:9",
            "--urls", "http://127.0.0.1:0",
        ];

        // Webhooks keep arriving before, during and after the kill.
        var sent = 0;
        using var stopSending = new CancellationTokenSource();
        var sender = Task.Run(
            async () =>
            {
                while (!stopSending.IsCancellationRequested)
                {
                    harness.Send(Webhook($"k{sent}", $"p{sent % 11}"), $"p{sent % 11}");
                    harness.Flush();
                    sent++;
                    await Task.Delay(5, CancellationToken.None);
                }
            },
            TestContext.Current.CancellationToken);

        using (var victim = Process.Start(new ProcessStartInfo("dotnet", Args("same")) { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            // Wait until the victim has written into its open transaction, and nothing is committed yet.
            var open = harness.ReadSinkUncommitted(100, TimeSpan.FromSeconds(40));
            Assert.True(open.Count >= 100, $"the victim wrote {open.Count} records in 40 s");
            Assert.Empty(harness.ReadSink(1, TimeSpan.FromSeconds(1)));
            victim.Kill(entireProcessTree: true);   // SIGKILL, mid-transaction
            await victim.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        await stopSending.CancelAsync();
        await sender;

        // The same transactional id fences the dead instance's open transaction, which aborts.
        await harness.StartProcessorAsync("same", guarantee: "ExactlyOnce");
        var sink = harness.ReadSink(sent, TimeSpan.FromSeconds(90));
        Assert.Equal(sent, sink.Count);
        Assert.Equal(sent, sink.Select(s => s.Track.MessageId).Distinct().Count());

        // The aborted records exist: a read_uncommitted reader sees them beside the committed ones.
        Assert.True(harness.ReadSinkUncommitted(sent + 1, TimeSpan.FromSeconds(30)).Count > sent, "no aborted records: the kill did not happen mid-transaction");
    }
}

/// <summary>Exactly-once tests run alone: they count the in-process transformers' metrics.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExactlyOnceCollection
{
    public const string Name = "exactly-once, alone";
}

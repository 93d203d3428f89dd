using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Contracts;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>The transformer as a running service against a Kafka protocol server (at-least-once here).</summary>
public sealed class TransformerTests(KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly JsonObject SeedWebhooks = JsonNode.Parse(File.ReadAllText(RepositoryPaths.InRoot("tests/UnitTests/Golden/seed-webhooks.json")))!.AsObject();

    private static string Webhook(string eventId, string person, string metric = "opened", string deliveryId = "d1") =>
        "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"" + metric + "\",\"timestamp\":1623848646,"
        + "\"data\":{\"delivery_id\":\"" + deliveryId + "\",\"identifiers\":{\"id\":\"" + person + "\",\"email\":\"" + person + "@example.com\"}}}";

    [Fact]
    public async Task The_documented_examples_flow_from_raw_to_sink_and_unmappable_ones_to_the_dead_letter_topic()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        await harness.StartProcessorAsync();

        foreach (var (name, node) in SeedWebhooks)
        {
            // The documented examples reuse one id for several events; real webhooks never do, and
            // dedup by event_id would rightly drop the repeats.
            var webhook = node!.DeepClone();
            webhook["event_id"] = "seed-" + name.Replace(' ', '-');
            harness.Send(webhook.ToJsonString(), (string)webhook["data"]!["identifiers"]!["id"]!);
        }

        harness.Send("""{"event_id":"nobody","object_type":"email","metric":"sent","data":{}}""", "nobody");
        harness.Send("not json", "garbage");
        harness.Flush();

        var sink = harness.ReadSink(6, Timeout);
        Assert.Equal(
            ["Email Opened", "Push Sent", "SMS Link Clicked", "SMS Sent", "Slack Sent", "Webhook Sent"],
            sink.Select(s => s.Track.Event).Order(StringComparer.Ordinal));
        foreach (var (record, track) in sink)
        {
            var json = JsonNode.Parse(track.TrackJson)!;
            Assert.Equal(track.Event, (string?)json["event"]);
            Assert.Equal(track.MessageId, (string?)json["messageId"]);
            Assert.Equal("acme", track.SourceId);
            Assert.Equal(track.PersonKey, Encoding.UTF8.GetString(record.Message.Key!));
        }

        var sms = sink.Single(s => s.Track.Event == "SMS Sent").Track;
        Assert.Equal("Hey, just testing sms segment stuff.", (string?)JsonNode.Parse(sms.TrackJson)!["properties"]!["content"]);

        var dlq = harness.ReadDlq(2, Timeout);
        Assert.Equal(["invalid_json", "no_person_identifier"], dlq.Select(d => Header(d, HeaderNames.DeadLetterReason)).Order(StringComparer.Ordinal));
        Assert.All(dlq, d =>
        {
            Assert.Equal("transform", Header(d, HeaderNames.DeadLetterStage));
            Assert.Equal(harness.Raw, Header(d, HeaderNames.DeadLetterSourceTopic));
            Assert.Equal("acme", Header(d, HeaderNames.SourceId));
        });
        Assert.Equal("not json", Encoding.UTF8.GetString(dlq.Single(d => Header(d, HeaderNames.DeadLetterReason) == "invalid_json").Message.Value!));
    }

    [Fact]
    public async Task Retried_webhooks_are_dropped_and_first_frequency_passes_one_per_delivery_and_metric()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        await harness.StartProcessorAsync(sendFrequency: "First");

        harness.Send(Webhook("e1", "p1"), "p1");
        harness.Send(Webhook("e1", "p1"), "p1");                      // Customer.io retry
        harness.Send(Webhook("e2", "p1"), "p1");                      // second open of the same delivery
        harness.Send(Webhook("e3", "p1", metric: "clicked"), "p1");   // first click of it
        harness.Send(Webhook("e4", "p2", deliveryId: "d2"), "p2");    // another delivery
        harness.Flush();

        var sink = harness.ReadSink(3, Timeout);
        Assert.Equal(["cio-e1", "cio-e3", "cio-e4"], sink.Select(s => s.Track.MessageId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Dedup_state_survives_a_restart_of_the_processor()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        var first = await harness.StartProcessorAsync("a");
        harness.Send(Webhook("r1", "p1"), "p1");
        harness.Flush();
        Assert.Single(harness.ReadSink(1, Timeout));
        await TransformerHarness.StopAsync(first);

        // A new instance restores the partition's state from the changelog before processing.
        await harness.StartProcessorAsync("b");
        harness.Send(Webhook("r1", "p1"), "p1");
        harness.Send(Webhook("r2", "p1"), "p1");
        harness.Flush();

        var sink = harness.ReadSink(2, Timeout);
        Assert.Equal(["cio-r1", "cio-r2"], sink.Select(s => s.Track.MessageId));
    }

    [Fact]
    public async Task Each_persons_order_is_kept_across_a_rebalance_between_two_instances()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        await harness.StartProcessorAsync("a");
        const int people = 12;
        const int perPerson = 40;
        for (var i = 0; i < perPerson; i++)
        {
            if (i == perPerson / 2)
            {
                harness.Flush();
                await harness.StartProcessorAsync("b");   // joins the group mid-stream
            }

            for (var p = 0; p < people; p++)
            {
                harness.Send(Webhook($"p{p}-{i:D3}", $"p{p}"), $"p{p}");
            }
        }

        harness.Flush();
        var sink = harness.ReadSinkDistinct(people * perPerson, TimeSpan.FromSeconds(60));

        // At-least-once may repeat a tail after the rebalance; what counts is that nothing is lost and
        // each person's distinct events arrive in the order they were sent.
        foreach (var person in sink.GroupBy(s => s.Track.PersonKey))
        {
            var ids = person.Select(s => s.Track.MessageId).ToList();
            var firstSeen = ids.Distinct().ToList();
            Assert.Equal(perPerson, firstSeen.Count);
            Assert.Equal(firstSeen.Order(StringComparer.Ordinal), firstSeen);
        }

        Assert.Equal(people, sink.Select(s => s.Track.PersonKey).Distinct().Count());
    }

    private static string Header(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";
}

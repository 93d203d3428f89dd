using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.Mapping;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Ingest;

/// <summary>The ingest's answers, as Customer.io would meet them, and what lands on the raw topic.</summary>
public sealed class IngestTests(KafkaFixture kafka)
{
    private const int Partitions = 3;

    private static string Webhook(string eventId, string id = "cool-person") =>
        "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1623848646,"
        + "\"data\":{\"delivery_id\":\"d1\",\"identifiers\":{\"id\":\"" + id + "\",\"email\":\"cool.person@example.com\"}}}";

    private async Task<IngestHost> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        var topic = kafka.UniqueName("raw");
        await kafka.CreateTopicAsync(topic, Partitions);
        return await IngestHost.StartAsync(kafka.BootstrapServers, topic, overrides);
    }

    [Fact]
    public async Task A_signed_webhook_is_stored_with_its_exact_bytes_person_key_and_headers_before_200()
    {
        await using var host = await StartAsync();
        // Odd but valid JSON formatting must survive byte for byte.
        var body = Encoding.UTF8.GetBytes("{ \"event_id\" : \"e-1\",\n\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1623848646,\"data\":{\"identifiers\":{\"id\":\"caf\\u00e9-person\"}} }");
        var before = DateTimeOffset.UtcNow;

        using var response = await host.PostSignedAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"status":"accepted"}""", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var record = Assert.Single(TopicReader.Read(kafka.BootstrapServers, host.Topic, Partitions, 1, TimeSpan.FromSeconds(10)));
        Assert.Equal(body, record.Message.Value);
        Assert.Equal("caf\u00e9-person", Encoding.UTF8.GetString(record.Message.Key!));
        Assert.Equal(IngestHost.SourceId, record.Header(HeaderNames.SourceId));
        Assert.Equal("application/json", record.Header(HeaderNames.ContentType));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", record.Header(HeaderNames.TraceParent));
        var receivedAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(record.Header(HeaderNames.ReceivedAt), System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(receivedAt, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task Signed_json_that_cannot_be_mapped_is_accepted_and_stored_for_the_dead_letter_path()
    {
        await using var host = await StartAsync();
        foreach (var body in new[] { "{}", """{"object_type":"email","metric":"sent","data":{}}""", """{"event_id":"x","data":"nope"}""" })
        {
            using var response = await host.PostSignedAsync(body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(3, TopicReader.Read(kafka.BootstrapServers, host.Topic, Partitions, 3, TimeSpan.FromSeconds(10)).Count);
    }

    public static TheoryData<string> SignatureFailures => new("missing both", "missing signature", "missing timestamp", "wrong key", "tampered body", "not hex", "other timestamp");

    [Theory]
    [MemberData(nameof(SignatureFailures))]
    public async Task A_missing_or_wrong_signature_is_401_and_nothing_is_stored(string failure)
    {
        await using var host = await StartAsync();
        var body = Encoding.UTF8.GetBytes(Webhook("sig-" + failure.Replace(' ', '-')));
        var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
        var signature = WebhookSignature.Sign(Encoding.UTF8.GetBytes(IngestHost.SigningKey), timestamp, body);
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/customerio/acme") { Content = IngestHost.Json(body) };
        switch (failure)
        {
            case "missing both":
                break;
            case "missing signature":
                request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
                break;
            case "missing timestamp":
                request.Headers.Add(WebhookSignature.SignatureHeader, signature);
                break;
            case "wrong key":
                request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
                request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign("other-key"u8, timestamp, body));
                break;
            case "tampered body":
                request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
                request.Headers.Add(WebhookSignature.SignatureHeader, signature);
                request.Content = IngestHost.Json(Encoding.UTF8.GetBytes(Webhook("sig-tampered", "someone-else")));
                break;
            case "not hex":
                request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
                request.Headers.Add(WebhookSignature.SignatureHeader, new string('z', 64));
                break;
            case "other timestamp":
                request.Headers.Add(WebhookSignature.TimestampHeader, "1");
                request.Headers.Add(WebhookSignature.SignatureHeader, signature);
                break;
        }

        using var response = await host.Client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(failure.StartsWith("missing", StringComparison.Ordinal) ? "missing_signature" : "invalid_signature", (string?)error["error"]);
        Assert.Empty(TopicReader.Read(kafka.BootstrapServers, host.Topic, Partitions, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task Unknown_source_is_404()
    {
        await using var host = await StartAsync();
        using var response = await host.PostSignedAsync(Webhook("u1"), sourceId: "nobody");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown_source", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"a string\"")]
    [InlineData("not json")]
    [InlineData("{\"event_id\":")]
    [InlineData("")]
    [InlineData("invalid UTF-8")]
    [InlineData("nested too deep")]
    public async Task A_signed_body_that_is_not_a_webhook_is_stored_keyed_by_its_hash_not_refused(string body)
    {
        // Bug: these were answered 400, and Customer.io pauses a workspace's webhooks after a 4xx and holds
        // back every later event behind the refused one, retrying it for 7 days.
        var bytes = body switch
        {
            "invalid UTF-8" => [.. Encoding.UTF8.GetBytes(Webhook("utf8"))[..^5], 0xFF, .. "}}}}"u8],
            "nested too deep" => Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100)),
            _ => Encoding.UTF8.GetBytes(body),
        };
        await using var host = await StartAsync();

        using var response = await host.PostSignedAsync(bytes);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(TopicReader.Read(kafka.BootstrapServers, host.Topic, Partitions, 1, TimeSpan.FromSeconds(10)));
        Assert.Equal(bytes, record.Message.Value);
        Assert.Equal(PersonKeys.OfBody(bytes), record.Message.Key);
        Assert.Equal(IngestHost.SourceId, record.Header(HeaderNames.SourceId));
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_413_with_or_without_content_length()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["CioSegment:Ingest:MaxBodyBytes"] = "2048" });
        var big = Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('x', 3000) + "\"}");
        using (var response = await host.PostSignedAsync(big))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        // Chunked: no Content-Length, the limit is enforced while reading.
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/customerio/acme") { Content = new StreamContent(new MemoryStream(big)) };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add(WebhookSignature.TimestampHeader, "1");
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(Encoding.UTF8.GetBytes(IngestHost.SigningKey), "1", big));
        using (var chunked = await host.Client.SendAsync(request, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        }

        // Just under the limit is fine.
        var fits = Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('x', 2048 - 10) + "\"}");
        using var ok = await host.PostSignedAsync(fits);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_body_just_under_the_default_limit_and_a_huge_person_id_are_stored()
    {
        // Found by the fuzzer: librdkafka's default message.max.bytes (1 000 000) and a 900 KB person id
        // as the Kafka key made such webhooks fail with 503 forever.
        await using var host = await StartAsync();
        var pad = 1024 * 1024 - 200;
        var body = "{\"event_id\":\"big\",\"object_type\":\"email\",\"metric\":\"sent\",\"data\":{\"identifiers\":{\"id\":\"p\"},\"content\":\"" + new string('x', pad) + "\"}}";
        using var big = await host.PostSignedAsync(body);
        Assert.Equal(HttpStatusCode.OK, big.StatusCode);

        var hugeId = "{\"event_id\":\"huge-id\",\"object_type\":\"email\",\"metric\":\"sent\",\"data\":{\"identifiers\":{\"id\":\"" + new string('p', 900_000) + "\"}}}";
        using var huge = await host.PostSignedAsync(hugeId);
        Assert.Equal(HttpStatusCode.OK, huge.StatusCode);
    }

    [Fact]
    public async Task With_a_timestamp_window_configured_stale_signatures_are_401()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["CioSegment:Ingest:SignatureTimestampWindow"] = "00:05:00" });
        var body = Encoding.UTF8.GetBytes(Webhook("window"));
        using var stale = await host.PostSignedAsync(body, timestamp: WebhookSignature.Timestamp(DateTimeOffset.UtcNow.AddHours(-1)));
        Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        Assert.Equal("stale_signature", (string?)JsonNode.Parse(await stale.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]);
        using var fresh = await host.PostSignedAsync(body);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task Without_a_window_a_days_old_retry_is_accepted()
    {
        await using var host = await StartAsync();
        using var response = await host.PostSignedAsync(Encoding.UTF8.GetBytes(Webhook("old")), timestamp: WebhookSignature.Timestamp(DateTimeOffset.UtcNow.AddDays(-6)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Error_answers_never_contain_secrets()
    {
        await using var host = await StartAsync();
        var answers = new List<string>();
        foreach (var (body, source) in new[] { ("[]", "acme"), ("{}", "nobody") })
        {
            using var r = await host.PostSignedAsync(body, source);
            answers.Add(await r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }

        using var unsigned = await host.Client.PostAsync("/webhooks/customerio/acme", IngestHost.Json("{}"u8.ToArray()), TestContext.Current.CancellationToken);
        answers.Add(await unsigned.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.All(answers, a => Assert.DoesNotContain("SECRET", a, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Health_endpoints_answer()
    {
        await using var host = await StartAsync();
        using var live = await host.Client.GetAsync("/health/live", TestContext.Current.CancellationToken);
        using var ready = await host.Client.GetAsync("/health/ready", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task A_few_hundred_concurrent_webhooks_are_all_stored_once()
    {
        await using var host = await StartAsync();
        const int count = 300;
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using var r = await host.PostSignedAsync(Webhook($"c-{i}", $"person-{i % 37}"));
            return r.StatusCode;
        }));
        Assert.All(responses, s => Assert.Equal(HttpStatusCode.OK, s));

        var records = TopicReader.Read(kafka.BootstrapServers, host.Topic, Partitions, count, TimeSpan.FromSeconds(20));
        Assert.Equal(count, records.Count);
        Assert.Equal(count, records.Select(r => Encoding.UTF8.GetString(r.Message.Value!)).Distinct().Count());

        // One person, one partition.
        Assert.All(records.GroupBy(r => Encoding.UTF8.GetString(r.Message.Key!)), g => Assert.Single(g.Select(r => r.Partition.Value).Distinct()));
    }

    [Fact]
    public async Task Broker_down_gives_503_with_retry_after_within_the_budget_and_nothing_acknowledged_is_lost()
    {
        // A broker of its own: taking it down must not disturb the tests running beside this one.
        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "raw-outage";
        broker.CreateTopic(topic, Partitions);
        await using var host = await IngestHost.StartAsync(broker.BootstrapServers, topic, new Dictionary<string, string?>
        {
            ["CioSegment:Ingest:BrokerTimeout"] = "00:00:01.500",
            ["CioSegment:Ingest:RetryAfterSeconds"] = "7",
        });

        var acknowledged = new List<string>();
        using (var warm = await host.PostSignedAsync(Webhook("before")))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
            acknowledged.Add("before");
        }

        broker.SetBrokerDown(1);
        var clock = Stopwatch.StartNew();
        var during = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var r = await host.PostSignedAsync(Webhook($"during-{i}"));
            return (Id: $"during-{i}", r.StatusCode, RetryAfter: r.Headers.RetryAfter?.Delta);
        }));
        clock.Stop();

        foreach (var r in during)
        {
            if (r.StatusCode == HttpStatusCode.OK)
            {
                acknowledged.Add(r.Id);
            }
            else
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(7), r.RetryAfter);
            }
        }

        Assert.Contains(during, r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3.5), $"answers took {clock.Elapsed}, the budget is 1.5 s");

        using (var readyDuring = await host.Client.GetAsync("/health/ready", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readyDuring.StatusCode);
        }

        broker.SetBrokerUp(1);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpStatusCode after;
        do
        {
            using var r = await host.PostSignedAsync(Webhook("after"));
            after = r.StatusCode;
        }
        while (after != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, after);
        acknowledged.Add("after");

        var stored = TopicReader.Read(broker.BootstrapServers, topic, Partitions, acknowledged.Count, TimeSpan.FromSeconds(15))
            .Select(r => (string)JsonNode.Parse(r.Message.Value!)!["event_id"]!)
            .ToHashSet();
        Assert.All(acknowledged, id => Assert.Contains(id, stored));
    }
}

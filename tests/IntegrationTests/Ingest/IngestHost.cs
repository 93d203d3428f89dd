using System.Net.Http.Headers;
using System.Text;
using CioSegment.Ingest;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CioSegment.IntegrationTests.Ingest;

/// <summary>The real ingest (Kestrel on a loopback port) against a broker, configured like production.</summary>
internal sealed class IngestHost : IAsyncDisposable
{
    public const string SourceId = "acme";
    public const string SigningKey = "acme-signing-SECRET";
    public const string WriteKey = "acme-write-SECRET";

    private readonly WebApplication _app;

    private IngestHost(WebApplication app, Uri baseAddress, string topic)
    {
        _app = app;
        Topic = topic;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public HttpClient Client { get; }

    public string Topic { get; }

    public static async Task<IngestHost> StartAsync(string bootstrapServers, string topic, IDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var settings = new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = bootstrapServers,
            ["CioSegment:Ingest:Topic"] = topic,
            ["CioSegment:Ingest:BrokerTimeout"] = "00:00:03",
            [$"CioSegment:Sources:{SourceId}:WebhookSigningKey"] = SigningKey,
            [$"CioSegment:Sources:{SourceId}:WriteKey"] = WriteKey,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddIngest();
        var app = builder.Build();
        app.MapIngest();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new IngestHost(app, new Uri(address), topic);
    }

    /// <summary>POSTs <paramref name="body"/> signed as Customer.io would.</summary>
    public Task<HttpResponseMessage> PostSignedAsync(byte[] body, string sourceId = SourceId, string key = SigningKey, string? timestamp = null)
    {
        return Client.SendAsync(SignedWebhooks.Request(sourceId, key, body, timestamp));
    }

    public Task<HttpResponseMessage> PostSignedAsync(string body, string sourceId = SourceId) => PostSignedAsync(Encoding.UTF8.GetBytes(body), sourceId);

    public static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Reads a topic from the beginning of every partition (no consumer group, so no rebalance wait), read_committed
/// unless told otherwise, until <c>expected</c> records arrived, then a short quiet period so that "exactly N" can be asserted.
/// </summary>
internal static class TopicReader
{
    /// <param name="isolation">read_committed by default; read_uncommitted also returns records of aborted and open transactions.</param>
    public static List<ConsumeResult<byte[]?, byte[]?>> Read(string bootstrapServers, string topic, int partitions, int expected, TimeSpan timeout, IsolationLevel isolation = IsolationLevel.ReadCommitted)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = isolation,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + timeout;
        while (records.Count < expected && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } record)
            {
                records.Add(record);
            }
        }

        var settle = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
        while (DateTime.UtcNow < settle)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false } extra)
            {
                records.Add(extra);
            }
        }

        consumer.Close();
        return records;
    }

    public static string Header(this ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : throw new KeyNotFoundException(name);
}

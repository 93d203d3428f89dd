using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace CioSegment.Ingest;

/// <summary>
/// <c>POST /webhooks/customerio/{sourceId}</c>: the only thing Customer.io talks to. It answers 200 only
/// once the raw body is stored in Kafka; anything signed and well-formed is accepted, mappable or not,
/// because a 4xx would make Customer.io pause and hold back every later event.
/// </summary>
public sealed class WebhookEndpoint(
    SourceCatalog sources,
    RawWebhookProducer producer,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<WebhookEndpoint> logger)
{
    public const string Route = "/webhooks/customerio/{sourceId}";

    public static readonly ActivitySource ActivitySource = new("CioSegment.Ingest");

    private static readonly System.Diagnostics.Metrics.Meter Meter = new("CioSegment.Ingest");

    private static readonly System.Diagnostics.Metrics.Counter<long> Webhooks =
        Meter.CreateCounter<long>("cio.ingest.webhooks", "{webhook}", "Webhooks answered, by HTTP status and source.");

    private static readonly byte[] Accepted = """{"status":"accepted"}"""u8.ToArray();

    private readonly IngestOptions _options = options.Value;
    private readonly string _retryAfter = options.Value.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
    private readonly string _spanName = "send " + options.Value.Topic;

    public async Task HandleAsync(HttpContext context, string sourceId)
    {
        try
        {
            await HandleCoreAsync(context, sourceId);
        }
        finally
        {
            // Only configured source ids become tag values: unknown ones must not grow the metric's cardinality.
            Webhooks.Add(
                1,
                new KeyValuePair<string, object?>("http.response.status_code", context.Response.StatusCode),
                new KeyValuePair<string, object?>("source", sources.TryGet(sourceId, out _) ? sourceId : "unknown"));
        }
    }

    private async Task HandleCoreAsync(HttpContext context, string sourceId)
    {
        var receivedAt = time.GetUtcNow();
        var request = context.Request;

        if (!sources.TryGet(sourceId, out var source))
        {
            await Problem(context, StatusCodes.Status404NotFound, "unknown_source", "No source is configured under this id; check the webhook URL.");
            return;
        }

        if (request.ContentLength > _options.MaxBodyBytes)
        {
            await Problem(context, StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The body is larger than {_options.MaxBodyBytes} bytes.");
            return;
        }

        byte[]? body;
        try
        {
            body = await ReadBodyAsync(request, _options.MaxBodyBytes, context.RequestAborted);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            // For example a body arriving too slowly (MinRequestBodyDataRate): answer as Kestrel would.
            logger.LogDebug("Webhook body for source {SourceId} not read: {Reason}", sourceId, e.Message);
            context.Response.StatusCode = e.StatusCode;
            return;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The sender went away mid-body: there is nobody to answer, and nothing left to drain.
            logger.LogDebug("Webhook sender for source {SourceId} went away: {Reason}", sourceId, e.Message);
            context.Abort();
            return;
        }

        if (body is null)
        {
            await Problem(context, StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The body is larger than {_options.MaxBodyBytes} bytes.");
            return;
        }

        var signatureProblem = CheckSignature(request, source, body, receivedAt);
        if (signatureProblem is not null)
        {
            await Problem(context, StatusCodes.Status401Unauthorized, signatureProblem.Value.Code, signatureProblem.Value.Detail);
            return;
        }

        // A signed body is stored whatever it holds: a 4xx makes Customer.io pause the workspace's webhooks
        // and hold back every later event behind this one for days. One that is not a webhook (not one UTF-8
        // JSON object) goes to the dead-letter topic downstream, with its reason.
        var key = ReportingWebhookParser.TryParse(body, out var parsed, out var error)
            ? PersonKeys.Of(body, parsed)
            : PersonKeys.OfBody(body);
        if (error.Reason is not null)
        {
            logger.LogInformation("Signed body for source {SourceId} is not a webhook ({Reason}: {Detail}); stored for the dead-letter topic.", source.SourceId, error.Reason, error.Detail);
        }

        using var activity = ActivitySource.StartActivity(_spanName, ActivityKind.Producer);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.destination.name", producer.Topic);
        activity?.SetTag("messaging.operation.type", "send");

        var message = new Message<byte[]?, byte[]>
        {
            Key = key,
            Value = body,
            Headers = new Headers
            {
                { HeaderNames.SourceId, Encoding.UTF8.GetBytes(source.SourceId) },
                { HeaderNames.ReceivedAt, ReceivedAtHeader.Encode(receivedAt) },
                { HeaderNames.ContentType, Encoding.UTF8.GetBytes(request.ContentType ?? "application/json") },
                { HeaderNames.TraceParent, Encoding.ASCII.GetBytes(TraceParent(activity, request)) },
            },
        };

        var outcome = await producer.ProduceAsync(message);
        if (outcome.TooLarge)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Failure);
            logger.LogWarning("Webhook for source {SourceId} refused by Kafka for its size ({Failure}); answered 413.", source.SourceId, outcome.Failure);
            await Problem(context, StatusCodes.Status413PayloadTooLarge, "body_too_large", "The event is larger than the broker accepts.");
            return;
        }

        if (!outcome.Stored)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Failure);
            activity?.SetTag("error.type", outcome.Failure);
            logger.LogWarning("Webhook for source {SourceId} not stored ({Failure}; budget {Budget}); answered 503.", source.SourceId, outcome.Failure, _options.BrokerTimeout);
            context.Response.Headers.RetryAfter = _retryAfter;
            await Problem(context, StatusCodes.Status503ServiceUnavailable, "broker_unavailable", "The event could not be stored in time; retry later.");
            return;
        }

        MessagingTelemetry.Sent(producer.Topic);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = Accepted.Length;
        await context.Response.Body.WriteAsync(Accepted);
    }

    private (string Code, string Detail)? CheckSignature(HttpRequest request, SourceSettings source, byte[] body, DateTimeOffset now)
    {
        var timestamp = request.Headers[WebhookSignature.TimestampHeader].ToString();
        var signature = request.Headers[WebhookSignature.SignatureHeader].ToString();
        if (timestamp.Length == 0 || signature.Length == 0)
        {
            return ("missing_signature", $"Both {WebhookSignature.TimestampHeader} and {WebhookSignature.SignatureHeader} headers are required.");
        }

        if (!WebhookSignature.Verify(source.WebhookSigningKey!.RevealUtf8(), timestamp, body, signature.AsSpan().Trim()))
        {
            return ("invalid_signature", $"{WebhookSignature.SignatureHeader} does not match the body; check the source's signing key.");
        }

        if (_options.SignatureTimestampWindow is { } window)
        {
            if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
                || (now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > window)
            {
                return ("stale_signature", $"{WebhookSignature.TimestampHeader} is outside the accepted window of {window}.");
            }
        }

        return null;
    }

    /// <summary>Reads the whole body, or returns null as soon as it exceeds <paramref name="limit"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancel)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancel);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            if (result.IsCompleted)
            {
                var body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            // Keep everything buffered until the request is complete.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static string TraceParent(Activity? activity, HttpRequest request)
    {
        if (activity is { IdFormat: ActivityIdFormat.W3C })
        {
            return activity.Id!;
        }

        if (request.Headers.TraceParent.ToString() is { Length: 55 } incoming)
        {
            return incoming;
        }

        // No tracing configured and none incoming: start a trace here so downstream spans can link to it.
        return $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-00";
    }

    internal static Task Problem(HttpContext context, int status, string code, string detail)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        var json = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("error", code);
            writer.WriteString("detail", detail);
            writer.WriteEndObject();
        }

        response.ContentLength = json.WrittenCount;
        return response.Body.WriteAsync(json.WrittenMemory).AsTask();
    }
}

using System.Text;
using CioSegment.Contracts;

namespace CioSegment.LoadTest;

/// <summary>Signed, unique, realistic reporting webhooks: a mix over the catalogue, many people.</summary>
internal sealed class Webhooks(string runId, string signingKey)
{
    private static readonly (string ObjectType, string Metric)[] Mix =
    [
        ("email", "sent"), ("email", "delivered"), ("email", "opened"), ("email", "opened"), ("email", "clicked"),
        ("email", "delivered"), ("email", "bounced"), ("sms", "sent"), ("sms", "delivered"), ("push", "sent"),
        ("push", "opened"), ("in_app", "opened"), ("webhook", "sent"), ("slack", "sent"), ("customer", "subscribed"),
    ];

    public string RunId { get; } = runId;

    /// <summary>The event_id of webhook <paramref name="n"/>; its messageId is <c>cio-</c> + this.</summary>
    public string EventId(long n) => $"{RunId}-{n}";

    public byte[] Body(long n)
    {
        var (objectType, metric) = Mix[n % Mix.Length];
        var person = n % 10_007;
        var sb = new StringBuilder(512);
        sb.Append("{\"data\":{\"action_id\":").Append(n % 97).Append(",\"campaign_id\":").Append(n % 13)
          .Append(",\"delivery_id\":\"dlv-").Append(n / 3).Append("\",\"journey_id\":\"01G2NBFT8N2MYDTT3MHWK7Z6C6\"");
        if (objectType is "email")
        {
            sb.Append(",\"recipient\":\"person").Append(person).Append("@example.com\",\"subject\":\"Your weekly digest\"");
        }

        if (metric == "clicked")
        {
            sb.Append(",\"href\":\"https://example.com/features?utm_source=customerio\",\"link_id\":").Append(n % 5);
        }

        sb.Append(",\"identifiers\":{\"id\":\"person-").Append(person).Append("\",\"email\":\"person").Append(person)
          .Append("@example.com\",\"cio_id\":\"c").Append(person).Append("\"}},\"event_id\":\"").Append(EventId(n))
          .Append("\",\"metric\":\"").Append(metric).Append("\",\"object_type\":\"").Append(objectType)
          .Append("\",\"timestamp\":").Append(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Append('}');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public HttpRequestMessage Request(string sourceId, byte[] body)
    {
        var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/webhooks/customerio/{sourceId}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(Encoding.UTF8.GetBytes(signingKey), timestamp, body));
        return request;
    }
}

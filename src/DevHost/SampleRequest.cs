using System.Text;
using CioSegment.Contracts;

namespace CioSegment.DevHost;

/// <summary>A signed sample webhook and the curl command that sends it, printed when the DevHost starts.</summary>
public static class SampleRequest
{
    public static string Body(DateTimeOffset now) =>
        "{\"event_id\":\"dev-" + now.ToUnixTimeMilliseconds() + "\",\"object_type\":\"email\",\"metric\":\"opened\","
        + "\"timestamp\":" + now.ToUnixTimeSeconds() + ",\"data\":{\"action_id\":16,\"campaign_id\":1,"
        + "\"delivery_id\":\"dgP6xQb6xQYDAAF6FOl-vmR0E7zoPqTRiAo=\",\"journey_id\":\"01G2NBFT8N2MYDTT3MHWK7Z6C6\","
        + "\"subject\":\"Test Subject\",\"recipient\":\"cool.person@customer.io\","
        + "\"identifiers\":{\"id\":\"cool-person\",\"email\":\"cool.person@example.com\",\"cio_id\":\"d9c106000001\"}}}";

    /// <summary>The curl command line; the body has no single quotes, so it is quoted as is.</summary>
    public static string Curl(string url, ReadOnlySpan<byte> signingKey, DateTimeOffset now)
    {
        var body = Body(now);
        var timestamp = WebhookSignature.Timestamp(now);
        var signature = WebhookSignature.Sign(signingKey, timestamp, Encoding.UTF8.GetBytes(body));
        return $"curl -sS -i -X POST '{url}' -H 'Content-Type: application/json' "
            + $"-H '{WebhookSignature.TimestampHeader}: {timestamp}' -H '{WebhookSignature.SignatureHeader}: {signature}' "
            + $"--data-binary '{body}'";
    }
}

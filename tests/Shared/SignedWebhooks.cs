using System.Net.Http.Headers;
using System.Text;
using CioSegment.Contracts;

namespace CioSegment.Tests;

/// <summary>Webhook requests signed as Customer.io signs them (<c>X-CIO-Timestamp</c>, <c>X-CIO-Signature</c>), for tests that post to an ingest.</summary>
internal static class SignedWebhooks
{
    /// <summary>A JSON POST of <paramref name="body"/> to <c>/webhooks/customerio/{sourceId}</c>, signed with <paramref name="signingKey"/> at <paramref name="timestamp"/> (default: now).</summary>
    public static HttpRequestMessage Request(string sourceId, string signingKey, byte[] body, string? timestamp = null)
    {
        timestamp ??= WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, $"/webhooks/customerio/{sourceId}") { Content = content };
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(Encoding.UTF8.GetBytes(signingKey), timestamp, body));
        return request;
    }

    /// <summary>Posts a signed webhook and returns the status it was answered with.</summary>
    public static async Task<System.Net.HttpStatusCode> PostAsync(HttpClient client, string sourceId, string signingKey, byte[] body, CancellationToken cancel = default)
    {
        using var request = Request(sourceId, signingKey, body);
        using var response = await client.SendAsync(request, cancel);
        return response.StatusCode;
    }
}

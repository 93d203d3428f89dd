using System.Text;
using System.Text.Json;

namespace CioSegment.DevDoubles.Segment;

/// <summary>What Segment's <c>/v1/batch</c> makes of one request: accepted, or the status and reason it refuses it with.</summary>
/// <param name="Status">200 when accepted; else 400 (body), 401 (auth), 404 (path) or 405 (method).</param>
/// <param name="Problem">Why it was refused, for the sender; null when accepted.</param>
/// <param name="WriteKey">The Basic auth user name, when there was one.</param>
/// <param name="MessageIds">The events' messageIds as sent (JSON escapes kept), in batch order; empty when refused.</param>
public sealed record SegmentBatchVerdict(int Status, string? Problem, string? WriteKey, IReadOnlyList<string> MessageIds)
{
    /// <summary>Segment would store the batch.</summary>
    public bool Accepted => Problem is null;
}

/// <summary>
/// The checks Segment's HTTP Tracking API makes of a batch request (see <c>docs/domain.md</c>): POST to
/// <c>…/v1/batch</c>, HTTP Basic auth with the write key as user name, <c>Content-Type: application/json</c>,
/// at most 500 KB per request, a JSON object whose <c>batch</c> is an array of at most 2 500 event objects
/// of at most 32 KB each, each with a string <c>messageId</c>. One place for these rules, so every double of
/// Segment (the HTTP stand-in, the fault simulation's in-process one) refuses the same requests.
/// </summary>
public static class SegmentBatchRules
{
    /// <summary>Segment's limit for one request body.</summary>
    public const int MaxRequestBytes = 500 * 1024;
    /// <summary>Segment's limit for one event.</summary>
    public const int MaxEventBytes = 32 * 1024;
    /// <summary>Segment's limit of events in one batch.</summary>
    public const int MaxEventsPerBatch = 2500;

    /// <summary>Checks one request.</summary>
    /// <param name="method">The HTTP method.</param>
    /// <param name="path">The request path; it must end with <c>/v1/batch</c> (a prefix is allowed, as behind a proxy).</param>
    /// <param name="authorization">The <c>Authorization</c> header, or null.</param>
    /// <param name="contentType">The media type of the body, or null.</param>
    /// <param name="body">The whole body.</param>
    public static SegmentBatchVerdict Check(string method, string path, string? authorization, string? contentType, ReadOnlySpan<byte> body)
    {
        if (!path.EndsWith("/v1/batch", StringComparison.Ordinal))
        {
            return Refuse(404, "no such endpoint: " + path, null);
        }

        if (!string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase))
        {
            return Refuse(405, "method not allowed: " + method, null);
        }

        var writeKey = WriteKeyOf(authorization);
        if (writeKey is null)
        {
            return Refuse(401, "missing or malformed Basic auth (the write key as user name)", null);
        }

        if (!string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Refuse(400, "content type must be application/json, was " + (contentType ?? "none"), writeKey);
        }

        if (body.Length > MaxRequestBytes)
        {
            return Refuse(400, $"request larger than {MaxRequestBytes} bytes ({body.Length})", writeKey);
        }

        try
        {
            var problem = ReadBatch(body, out var ids);
            return problem is null ? new SegmentBatchVerdict(200, null, writeKey, ids) : Refuse(400, problem, writeKey);
        }
        catch (JsonException e)
        {
            return Refuse(400, "invalid JSON: " + e.Message, writeKey);
        }
    }

    /// <summary>The user name of a Basic <c>Authorization</c> header (the write key), or null when there is none.</summary>
    public static string? WriteKeyOf(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            var user = colon >= 0 ? text[..colon] : text;
            return user.Length > 0 ? user : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static SegmentBatchVerdict Refuse(int status, string problem, string? writeKey) => new(status, problem, writeKey, []);

    /// <summary>Reads the body with one forward pass; returns the problem, or null with the messageIds.</summary>
    private static string? ReadBatch(ReadOnlySpan<byte> body, out List<string> ids)
    {
        ids = [];
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return "the body must be a JSON object";
        }

        var sawBatch = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("batch"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"batch\" must be an array";
            }

            sawBatch = true;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return $"batch[{ids.Count}] must be an object";
                }

                var start = reader.TokenStartIndex;
                string? id = null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isId = reader.ValueTextEquals("messageId"u8);
                    reader.Read();
                    if (isId && reader.TokenType == JsonTokenType.String)
                    {
                        // As sent: Segment's decoder keeps what it cannot map to UTF-16, so escapes stay.
                        id = reader.ValueIsEscaped ? Encoding.UTF8.GetString(reader.ValueSpan) : reader.GetString();
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                if (reader.BytesConsumed - start > MaxEventBytes)
                {
                    return $"batch[{ids.Count}] is larger than {MaxEventBytes} bytes";
                }

                if (id is null)
                {
                    return $"batch[{ids.Count}].messageId is missing or not a string";
                }

                ids.Add(id);
                if (ids.Count > MaxEventsPerBatch)
                {
                    return $"more than {MaxEventsPerBatch} events in one batch";
                }
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            throw new JsonException("unexpected content after the body");
        }

        return !sawBatch ? "the body has no \"batch\" array" : ids.Count == 0 ? "\"batch\" is empty" : null;
    }
}

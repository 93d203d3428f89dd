using System.Security.Cryptography;

namespace CioSegment.Mapping;

/// <summary>
/// Deterministic Segment messageIds (docs/mapping.md, "messageId"): <c>cio-</c> + event_id, or
/// <c>cio-h-</c> + the first 26 characters of base32(SHA-256(...)) when there is no event_id (of the raw
/// body) or when <c>cio-</c> + event_id would reach Segment's 100-character dedup limit (of the event_id).
/// </summary>
public static class MessageIds
{
    /// <summary>Segment deduplicates messageIds shorter than 100 characters.</summary>
    public const int MaxLength = 99;

    public const int HashedLength = 6 + HashChars;

    private const int HashChars = 26;

    /// <summary>Longest event_id (bytes, as it arrived) used verbatim.</summary>
    public const int MaxVerbatimEventIdBytes = MaxLength - 4;

    private static ReadOnlySpan<byte> Alphabet => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"u8;

    /// <summary>
    /// Writes the messageId of a webhook (JSON string content, without quotes) into <paramref name="id"/>
    /// (at least <see cref="MaxLength"/> + 2 bytes); returns its length.
    /// </summary>
    public static int Write(ReadOnlySpan<byte> body, JsonSlice eventId, Span<byte> id)
    {
        // Verbatim only when it is plain text: an event_id escaping a lone UTF-16 surrogate would make a
        // messageId that strict JSON readers cannot read as a string, so it is hashed like an overlong one.
        if (eventId.IsIdentifier && eventId.Content(body).Length <= MaxVerbatimEventIdBytes && IsText(body, eventId))
        {
            var content = eventId.Content(body);
            "cio-"u8.CopyTo(id);
            content.CopyTo(id[4..]);
            return 4 + content.Length;
        }

        // No usable event_id: hash the body. An overlong one: hash it, so Segment still dedups it.
        return WriteHashed(eventId.IsIdentifier ? eventId.Content(body) : body, id);
    }

    private static bool IsText(ReadOnlySpan<byte> body, JsonSlice slice)
    {
        if (!slice.Escaped)
        {
            return true;
        }

        Span<byte> scratch = stackalloc byte[MaxVerbatimEventIdBytes + 2];
        return slice.TryCopyText(body, scratch, out _);
    }

    /// <summary>Writes <c>cio-h-</c> + base32(SHA-256(<paramref name="source"/>))[..26] (32 bytes).</summary>
    public static int WriteHashed(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(source, hash);
        "cio-h-"u8.CopyTo(destination);
        var d = destination[6..];

        // RFC 4648 base32: five bits at a time, most significant first.
        int buffer = 0, bits = 0, n = 0, i = 0;
        while (n < HashChars)
        {
            if (bits < 5)
            {
                buffer = (buffer << 8) | hash[i++];
                bits += 8;
            }

            bits -= 5;
            d[n++] = Alphabet[(buffer >> bits) & 31];
        }

        return HashedLength;
    }
}

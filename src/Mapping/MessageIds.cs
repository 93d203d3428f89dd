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

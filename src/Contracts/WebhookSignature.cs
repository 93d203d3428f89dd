using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CioSegment.Contracts;

/// <summary>
/// Customer.io's reporting-webhook signature: <c>X-CIO-Signature</c> =
/// hex(HMAC-SHA256(signingKey, "v0:" + X-CIO-Timestamp + ":" + rawBody)), as customerio-node's
/// <c>verifyRequestSignature</c> computes it. Both the ingest (verify) and tools (sign) use it.
/// </summary>
public static class WebhookSignature
{
    public const string TimestampHeader = "X-CIO-Timestamp";
    public const string SignatureHeader = "X-CIO-Signature";

    private const int StackLimit = 4096;

    /// <summary>The lower-case hex signature of <paramref name="body"/> sent at <paramref name="timestamp"/>.</summary>
    public static string Sign(ReadOnlySpan<byte> signingKey, string timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Compute(signingKey, timestamp, body, mac);
        return Convert.ToHexStringLower(mac);
    }

    /// <summary>
    /// Whether <paramref name="signatureHex"/> is the signature of <paramref name="body"/> at
    /// <paramref name="timestamp"/>. The comparison takes the same time wherever the first difference is.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> signingKey, string timestamp, ReadOnlySpan<byte> body, ReadOnlySpan<char> signatureHex)
    {
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Span<byte> given = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (signatureHex.Length != 2 * HMACSHA256.HashSizeInBytes
            || Convert.FromHexString(signatureHex, given, out _, out var written) != OperationStatus.Done
            || written != given.Length)
        {
            return false;
        }

        Compute(signingKey, timestamp, body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>The unix-seconds text for <c>X-CIO-Timestamp</c>.</summary>
    public static string Timestamp(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private static void Compute(ReadOnlySpan<byte> key, string timestamp, ReadOnlySpan<byte> body, Span<byte> mac)
    {
        // "v0:" + timestamp + ":" + body, hashed in one call over a pooled buffer.
        var length = 3 + Encoding.UTF8.GetByteCount(timestamp) + 1 + body.Length;
        byte[]? rented = null;
        var message = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        "v0:"u8.CopyTo(message);
        var n = 3 + Encoding.UTF8.GetBytes(timestamp, message[3..]);
        message[n++] = (byte)':';
        body.CopyTo(message[n..]);
        HMACSHA256.HashData(key, message[..length], mac);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

using System.Buffers.Text;

namespace CioSegment.Contracts;

/// <summary>
/// The <see cref="HeaderNames.ReceivedAt"/> header's format, in one place: when the ingest received the
/// webhook, as unix milliseconds in ASCII decimal (for example <c>1700000000000</c>).
/// </summary>
public static class ReceivedAtHeader
{
    /// <summary>The latest instant the format accepts (9999-12-31T23:59:59Z).</summary>
    private const long MaxMs = 253_402_300_799_000;

    public static byte[] Encode(DateTimeOffset at)
    {
        Span<byte> buffer = stackalloc byte[20];
        Utf8Formatter.TryFormat(at.ToUnixTimeMilliseconds(), buffer, out var written);
        return buffer[..written].ToArray();
    }

    /// <summary>Reads the header's value; false for anything that is not a positive unix-millisecond instant.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out DateTimeOffset at)
    {
        at = default;
        if (value.IsEmpty || value[0] is < (byte)'0' or > (byte)'9' || !Utf8Parser.TryParse(value, out long ms, out var consumed) || consumed != value.Length || ms <= 0 || ms >= MaxMs)
        {
            return false;
        }

        at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }
}

using System.Globalization;
using System.Text.Json;

namespace CioSegment.Mapping;

/// <summary>
/// The webhook's <c>timestamp</c> (unix seconds as a number or a numeric string) as unix milliseconds,
/// and its ISO-8601 UTC text (<c>2021-06-16T13:04:06Z</c>, with <c>.fff</c> only when there are milliseconds).
/// </summary>
public static class EventTime
{
    /// <summary>Latest instant accepted: 9999-12-31T23:59:59Z.</summary>
    public const long MaxUnixSeconds = 253_402_300_799;

    /// <summary>Bytes needed by <see cref="Format"/>.</summary>
    public const int MaxFormattedBytes = 24;

    /// <summary>Reads unix seconds from a JSON number or numeric string; false when missing, malformed or out of range.</summary>
    public static bool TryRead(JsonSlice timestamp, ReadOnlySpan<byte> body, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        ReadOnlySpan<byte> text;
        if (timestamp.Kind == JsonTokenType.Number)
        {
            text = timestamp.Raw(body);
        }
        else if (timestamp.Kind == JsonTokenType.String && !timestamp.Escaped)
        {
            // Escapes never occur in a numeric string Customer.io sends; an escaped one is treated as invalid.
            text = timestamp.Content(body);
        }
        else
        {
            return false;
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            if (seconds <= 0 || seconds > MaxUnixSeconds)
            {
                return false;
            }

            unixMilliseconds = seconds * 1000;
            return true;
        }

        if (double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value)
            && double.IsFinite(value) && value > 0 && value <= MaxUnixSeconds)
        {
            unixMilliseconds = (long)Math.Round(value * 1000, MidpointRounding.AwayFromZero);
            return unixMilliseconds > 0;
        }

        return false;
    }

    /// <summary>Writes <c>yyyy-MM-ddTHH:mm:ss[.fff]Z</c>; returns the byte count.</summary>
    public static int Format(long unixMilliseconds, Span<byte> d)
    {
        var time = DateTime.UnixEpoch.AddMilliseconds(unixMilliseconds);
        var (year, month, day) = time;
        Digits(d, year, 4);
        d[4] = (byte)'-';
        Digits(d[5..], month, 2);
        d[7] = (byte)'-';
        Digits(d[8..], day, 2);
        d[10] = (byte)'T';
        Digits(d[11..], time.Hour, 2);
        d[13] = (byte)':';
        Digits(d[14..], time.Minute, 2);
        d[16] = (byte)':';
        Digits(d[17..], time.Second, 2);
        var n = 19;
        var millis = time.Millisecond;
        if (millis != 0)
        {
            d[n++] = (byte)'.';
            Digits(d[n..], millis, 3);
            n += 3;
        }

        d[n++] = (byte)'Z';
        return n;
    }

    private static void Digits(Span<byte> d, int value, int count)
    {
        for (var i = count - 1; i >= 0; i--)
        {
            d[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}

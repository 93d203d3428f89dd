using System.Text;

namespace CioSegment.Mapping;

/// <summary>
/// Segment event names: <c>&lt;Channel&gt; &lt;Metric&gt;</c> (docs/mapping.md, "Event name"). Known
/// channels and metrics have fixed spellings; any other word is written in Title Case, so unknown
/// combinations still get a sensible name and are never rejected. A <c>cio_</c> prefix on a metric
/// (<c>cio_subscription_preferences_changed</c>) is Customer.io's marker, not part of the name.
/// </summary>
public static class EventNames
{
    /// <summary>Longest object_type or metric accepted (bytes, unescaped).</summary>
    public const int MaxPartBytes = 100;

    /// <summary>Room needed by <see cref="Write"/>.</summary>
    public const int MaxNameBytes = (2 * MaxPartBytes) + 16;

    /// <summary>Writes the event name into <paramref name="destination"/> and returns its length (0 if either part has no word).</summary>
    public static int Write(ReadOnlySpan<byte> objectType, ReadOnlySpan<byte> metric, Span<byte> destination)
    {
        var n = WriteChannel(objectType, destination);
        if (n == 0)
        {
            return 0;
        }

        destination[n++] = (byte)' ';
        var m = WriteMetric(metric, destination[n..]);
        return m == 0 ? 0 : n + m;
    }

    /// <summary>The event name as a string (tools and tests; the mapper writes bytes).</summary>
    public static string Of(string objectType, string metric)
    {
        Span<byte> buffer = stackalloc byte[MaxNameBytes];
        var n = Write(Encoding.UTF8.GetBytes(objectType), Encoding.UTF8.GetBytes(metric), buffer);
        return Encoding.UTF8.GetString(buffer[..n]);
    }

    /// <summary>
    /// The metric without Customer.io's <c>cio_</c> prefix (ASCII case-insensitive), which is not part of
    /// the event's name; the metric itself when it has no such prefix or nothing follows it.
    /// </summary>
    public static ReadOnlySpan<byte> WithoutCioPrefix(ReadOnlySpan<byte> metric) =>
        metric.Length > CioPrefix.Length && Ascii.EqualsIgnoreCase(metric[..CioPrefix.Length], CioPrefix) ? metric[CioPrefix.Length..] : metric;

    private static ReadOnlySpan<byte> CioPrefix => "cio_"u8;

    private static int WriteChannel(ReadOnlySpan<byte> objectType, Span<byte> d)
    {
        ReadOnlySpan<byte> known =
            Ascii.EqualsIgnoreCase(objectType, "email"u8) ? "Email"u8
            : Ascii.EqualsIgnoreCase(objectType, "sms"u8) ? "SMS"u8
            : Ascii.EqualsIgnoreCase(objectType, "push"u8) ? "Push"u8
            : Ascii.EqualsIgnoreCase(objectType, "slack"u8) ? "Slack"u8
            : Ascii.EqualsIgnoreCase(objectType, "webhook"u8) ? "Webhook"u8
            : Ascii.EqualsIgnoreCase(objectType, "in_app"u8) ? "In-App"u8
            : Ascii.EqualsIgnoreCase(objectType, "whatsapp"u8) ? "WhatsApp"u8
            : Ascii.EqualsIgnoreCase(objectType, "customer"u8) ? "Customer"u8
            : default;
        if (!known.IsEmpty)
        {
            known.CopyTo(d);
            return known.Length;
        }

        return WriteTitleCase(objectType, d);
    }

    private static int WriteMetric(ReadOnlySpan<byte> metric, Span<byte> d)
    {
        metric = WithoutCioPrefix(metric);
        ReadOnlySpan<byte> known =
            Ascii.EqualsIgnoreCase(metric, "clicked"u8) ? "Link Clicked"u8
            : Ascii.EqualsIgnoreCase(metric, "spammed"u8) ? "Marked as Spam"u8
            : default;
        if (!known.IsEmpty)
        {
            known.CopyTo(d);
            return known.Length;
        }

        return WriteTitleCase(metric, d);
    }

    /// <summary>Words split on '_' (and spaces), each with an upper-case first letter and lower-case rest, joined by one space.</summary>
    private static int WriteTitleCase(ReadOnlySpan<byte> text, Span<byte> d)
    {
        var n = 0;
        var atWordStart = true;
        foreach (var b in text)
        {
            if (b is (byte)'_' or (byte)' ')
            {
                atWordStart = true;
                continue;
            }

            if (atWordStart && n > 0)
            {
                d[n++] = (byte)' ';
            }

            d[n++] = atWordStart ? ToUpper(b) : ToLower(b);
            atWordStart = false;
        }

        return n;
    }

    private static byte ToUpper(byte b) => b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;

    private static byte ToLower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;
}

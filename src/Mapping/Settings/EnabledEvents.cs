using System.Text;

namespace CioSegment.Mapping.Settings;

/// <summary>
/// The source's enabled events (Customer.io's "enable the events you want to send"): a list of <c>object_type.metric</c> patterns where
/// either side may be <c>*</c>, or a lone <c>*</c> for everything. Matching is ASCII case-insensitive, and
/// a metric's <c>cio_</c> prefix is ignored on both sides, so <c>customer.subscription_preferences_changed</c>
/// and <c>customer.cio_subscription_preferences_changed</c> name the same event (docs/mapping.md, "Enabled events").
/// </summary>
public sealed class EnabledEvents
{
    /// <summary>Every event is enabled (the default).</summary>
    public static readonly EnabledEvents All = new([new Pattern(null, null)], ["*"]);

    private readonly Pattern[] _patterns;
    private readonly bool _matchesAll;

    private EnabledEvents(Pattern[] patterns, IReadOnlyList<string> entries)
    {
        _patterns = patterns;
        Entries = entries;
        _matchesAll = Array.Exists(patterns, p => p.ObjectType is null && p.Metric is null);
    }

    /// <summary>The patterns as configured.</summary>
    public IReadOnlyList<string> Entries { get; }

    /// <summary>
    /// Parses the configured patterns. Returns null and one error per bad entry, each naming the entry's
    /// index under <paramref name="settingPath"/>.
    /// </summary>
    public static EnabledEvents? Parse(IReadOnlyList<string>? entries, string settingPath, List<string> errors)
    {
        if (entries is null)
        {
            return All;
        }

        if (entries.Count == 0)
        {
            errors.Add($"{settingPath}: the list is empty, so no event would be sent; list events such as 'email.opened', 'email.*' or '*', or remove the setting to send every event.");
            return null;
        }

        var patterns = new Pattern[entries.Count];
        var ok = true;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i]?.Trim() ?? "";
            if (entry == "*")
            {
                patterns[i] = new Pattern(null, null);
                continue;
            }

            var dot = entry.IndexOf('.');
            if (dot <= 0 || dot == entry.Length - 1 || entry.IndexOf('.', dot + 1) >= 0
                || !IsPart(entry.AsSpan(0, dot)) || !IsPart(entry.AsSpan(dot + 1)))
            {
                errors.Add($"{settingPath}:{i}: '{entries[i]}' is not an event pattern; use 'object_type.metric' with letters, digits and '_' (for example 'email.opened'), '*' for either part ('email.*', '*.clicked'), or '*' alone.");
                ok = false;
                continue;
            }

            var objectType = entry[..dot];
            var metric = entry[(dot + 1)..];
            patterns[i] = new Pattern(
                objectType == "*" ? null : Encoding.UTF8.GetBytes(objectType),
                metric == "*" ? null : EventNames.WithoutCioPrefix(Encoding.UTF8.GetBytes(metric)).ToArray());
        }

        return ok ? new EnabledEvents(patterns, entries.ToArray()) : null;
    }

    /// <summary>Whether an event with this object_type and metric (UTF-8, unescaped) is enabled.</summary>
    public bool IsEnabled(ReadOnlySpan<byte> objectType, ReadOnlySpan<byte> metric)
    {
        if (_matchesAll)
        {
            return true;
        }

        metric = EventNames.WithoutCioPrefix(metric);
        foreach (var p in _patterns)
        {
            if ((p.ObjectType is null || Ascii.EqualsIgnoreCase(p.ObjectType, objectType))
                && (p.Metric is null || Ascii.EqualsIgnoreCase(p.Metric, metric)))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => string.Join(", ", Entries);

    private static bool IsPart(ReadOnlySpan<char> part)
    {
        if (part is "*")
        {
            return true;
        }

        foreach (var c in part)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    private readonly record struct Pattern(byte[]? ObjectType, byte[]? Metric);
}

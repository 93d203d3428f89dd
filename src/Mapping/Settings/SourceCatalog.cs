using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;

namespace CioSegment.Mapping.Settings;

/// <summary>What one <see cref="SourceCatalog.Apply"/> changed, by source id.</summary>
public sealed record SourceChanges(IReadOnlyList<string> Added, IReadOnlyList<string> Changed, IReadOnlyList<string> Removed)
{
    /// <summary>Nothing was added, changed or removed.</summary>
    public bool None => Added.Count == 0 && Changed.Count == 0 && Removed.Count == 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"added [{string.Join(", ", Added)}], changed [{string.Join(", ", Changed)}], removed [{string.Join(", ", Removed)}]";
}

/// <summary>
/// Every configured source, read from <c>CioSegment:Sources:{sourceId}</c> and validated as a whole: a
/// service whose sources are invalid at start-up refuses to start and names each bad setting; while it
/// runs, a valid new set replaces the current one at once (<see cref="Apply"/>) and an invalid one is
/// refused by whoever reads the configuration, so the last good set stays.
/// <c>EnabledEvents</c> may be a list (<c>EnabledEvents:0</c>, ...) or, handy in environment variables and
/// mounted files, one comma-separated value.
/// </summary>
/// <remarks>
/// A removed source is not forgotten at once: events already in Kafka for it are still processed with its
/// last settings for <see cref="RemovedSourceGrace"/> (<see cref="TryGetIncludingRemoved"/>), so removing
/// and re-adding a source, or a reload that briefly misses a file, loses nothing. The ingest asks
/// <see cref="TryGet"/>, which knows only the current sources.
/// </remarks>
public sealed class SourceCatalog
{
    private readonly TimeProvider _time;
    private volatile State _state;

    /// <summary>A catalog of <paramref name="sources"/>.</summary>
    /// <param name="sources">The sources; ids are unique.</param>
    /// <param name="removedSourceGrace">How long a removed source's settings stay usable for events already in Kafka.</param>
    /// <param name="time">The clock of that grace.</param>
    public SourceCatalog(IEnumerable<SourceSettings> sources, TimeSpan removedSourceGrace = default, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        RemovedSourceGrace = removedSourceGrace;
        _state = new State(sources.ToFrozenDictionary(s => s.SourceId, StringComparer.Ordinal), FrozenDictionary<string, Removed>.Empty);
    }

    /// <summary>How long a removed source's settings stay usable (<see cref="TryGetIncludingRemoved"/>).</summary>
    public TimeSpan RemovedSourceGrace { get; }

    /// <summary>The current sources.</summary>
    public IReadOnlyCollection<SourceSettings> All => _state.Current.Values;

    /// <summary>A current source.</summary>
    public bool TryGet(string sourceId, [NotNullWhen(true)] out SourceSettings? settings) =>
        _state.Current.TryGetValue(sourceId, out settings);

    /// <summary>A current source, or one removed less than <see cref="RemovedSourceGrace"/> ago, with its last settings.</summary>
    public bool TryGetIncludingRemoved(string sourceId, [NotNullWhen(true)] out SourceSettings? settings)
    {
        var state = _state;
        if (state.Current.TryGetValue(sourceId, out settings))
        {
            return true;
        }

        if (state.Removed.TryGetValue(sourceId, out var removed) && _time.GetUtcNow() - removed.At < RemovedSourceGrace)
        {
            settings = removed.Settings;
            return true;
        }

        settings = null;
        return false;
    }

    /// <summary>Replaces the current sources with <paramref name="sources"/> (already validated); returns what changed.</summary>
    public SourceChanges Apply(IReadOnlyCollection<SourceSettings> sources)
    {
        var now = _time.GetUtcNow();
        var old = _state;
        var next = sources.ToFrozenDictionary(s => s.SourceId, StringComparer.Ordinal);
        var added = next.Keys.Where(id => !old.Current.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
        var changed = next.Values.Where(s => old.Current.TryGetValue(s.SourceId, out var before) && !before.SameAs(s)).Select(s => s.SourceId).Order(StringComparer.Ordinal).ToList();
        var removedIds = old.Current.Keys.Where(id => !next.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
        var removed = old.Removed
            .Where(r => !next.ContainsKey(r.Key) && now - r.Value.At < RemovedSourceGrace)
            .Concat(removedIds.Select(id => KeyValuePair.Create(id, new Removed(old.Current[id], now))))
            .ToFrozenDictionary(StringComparer.Ordinal);
        _state = new State(next, removed);
        return new SourceChanges(added, changed, removedIds);
    }

    /// <summary>Reads and validates every source; throws <see cref="SourceSettingsException"/> listing every problem.</summary>
    public static SourceCatalog FromConfiguration(IConfiguration configuration, TimeSpan removedSourceGrace = default, TimeProvider? time = null)
    {
        var sources = Read(configuration.GetSection(SourceSettings.SectionName), out var errors);
        return errors.Count > 0 ? throw new SourceSettingsException(errors) : new SourceCatalog(sources, removedSourceGrace, time);
    }

    /// <summary>Reads and validates the sources under <paramref name="sources"/> (the <c>CioSegment:Sources</c> section).</summary>
    /// <param name="sources">The section holding one child per source id.</param>
    /// <param name="errors">Every problem, each naming its setting; empty when all are valid.</param>
    /// <returns>The valid sources.</returns>
    public static List<SourceSettings> Read(IConfigurationSection sources, out List<string> errors)
    {
        errors = [];
        var valid = new List<SourceSettings>();
        foreach (var section in sources.GetChildren())
        {
            if (SourceSettings.TryCreate(section.Key, ReadOptions(section), out var settings, out var sourceErrors))
            {
                valid.Add(settings);
            }

            errors.AddRange(sourceErrors);
        }

        return valid;
    }

    /// <summary>One source's settings as configured, not yet validated.</summary>
    public static SourceOptions ReadOptions(IConfigurationSection section)
    {
        var events = section.GetSection(nameof(SourceOptions.EnabledEvents));
        List<string>? enabled = events.Value is { } single
            ? single.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
            : events.GetChildren().Any() ? events.GetChildren().Select(c => c.Value ?? "").ToList() : null;
        return new SourceOptions
        {
            WebhookSigningKey = Trimmed(section[nameof(SourceOptions.WebhookSigningKey)]),
            WriteKey = Trimmed(section[nameof(SourceOptions.WriteKey)]),
            Region = section[nameof(SourceOptions.Region)],
            SegmentEndpoint = Trimmed(section[nameof(SourceOptions.SegmentEndpoint)]),
            EnabledEvents = enabled,
            SendFrequency = section[nameof(SourceOptions.SendFrequency)],
            BodyContent = section[nameof(SourceOptions.BodyContent)],
            SendBackToCustomerIo = section[nameof(SourceOptions.SendBackToCustomerIo)],
            Version = section[nameof(SourceOptions.Version)],
        };
    }

    /// <summary>A key read from a mounted file often ends with the newline an editor or <c>echo</c> added; a key never does.</summary>
    private static string? Trimmed(string? value) => value?.Trim();

    private sealed record Removed(SourceSettings Settings, DateTimeOffset At);

    private sealed record State(FrozenDictionary<string, SourceSettings> Current, FrozenDictionary<string, Removed> Removed);
}

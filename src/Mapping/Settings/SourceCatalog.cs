using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;

namespace CioSegment.Mapping.Settings;

/// <summary>
/// Every configured source, read from <c>CioSegment:Sources:{sourceId}</c> and validated as a whole at
/// start-up: a service with a bad setting refuses to start and names each bad setting.
/// <c>EnabledEvents</c> may be a list (<c>EnabledEvents:0</c>, ...) or, handy in environment variables,
/// one comma-separated value.
/// </summary>
public sealed class SourceCatalog
{
    private readonly Dictionary<string, SourceSettings> _sources;

    public SourceCatalog(IEnumerable<SourceSettings> sources)
    {
        _sources = sources.ToDictionary(s => s.SourceId, StringComparer.Ordinal);
    }

    public IReadOnlyCollection<SourceSettings> All => _sources.Values;

    public bool TryGet(string sourceId, [NotNullWhen(true)] out SourceSettings? settings) =>
        _sources.TryGetValue(sourceId, out settings);

    /// <summary>Reads and validates every source; throws <see cref="SourceSettingsException"/> listing every problem.</summary>
    public static SourceCatalog FromConfiguration(IConfiguration configuration)
    {
        var errors = new List<string>();
        var sources = new List<SourceSettings>();
        foreach (var section in configuration.GetSection(SourceSettings.SectionName).GetChildren())
        {
            if (SourceSettings.TryCreate(section.Key, ReadOptions(section), out var settings, out var sourceErrors))
            {
                sources.Add(settings);
            }

            errors.AddRange(sourceErrors);
        }

        if (errors.Count > 0)
        {
            throw new SourceSettingsException(errors);
        }

        return new SourceCatalog(sources);
    }

    public static SourceOptions ReadOptions(IConfigurationSection section)
    {
        var events = section.GetSection(nameof(SourceOptions.EnabledEvents));
        List<string>? enabled = events.Value is { } single
            ? single.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
            : events.GetChildren().Any() ? events.GetChildren().Select(c => c.Value ?? "").ToList() : null;
        return new SourceOptions
        {
            WebhookSigningKey = section[nameof(SourceOptions.WebhookSigningKey)],
            WriteKey = section[nameof(SourceOptions.WriteKey)],
            Region = section[nameof(SourceOptions.Region)],
            SegmentEndpoint = section[nameof(SourceOptions.SegmentEndpoint)],
            EnabledEvents = enabled,
            SendFrequency = section[nameof(SourceOptions.SendFrequency)],
            BodyContent = section[nameof(SourceOptions.BodyContent)],
            SendBackToCustomerIo = section[nameof(SourceOptions.SendBackToCustomerIo)],
            Version = section[nameof(SourceOptions.Version)],
        };
    }
}

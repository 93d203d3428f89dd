using System.Diagnostics.CodeAnalysis;

namespace CioSegment.Mapping.Settings;

/// <summary>
/// The validated settings of one source (one Customer.io workspace wired to one Segment source), as
/// docs/mapping.md lists them. Created only through <see cref="TryCreate"/> or <see cref="Create"/>.
/// Secrets are <see cref="Secret"/>s, so <see cref="ToString"/> never prints them.
/// </summary>
public sealed class SourceSettings
{
    /// <summary>Configuration section that holds the sources, one child per source id.</summary>
    public const string SectionName = "CioSegment:Sources";

    /// <summary>Longest source id accepted; it travels in every Kafka record header.</summary>
    public const int MaxSourceIdLength = 100;

    private SourceSettings(string sourceId)
    {
        SourceId = sourceId;
    }

    public string SourceId { get; }

    public Secret? WebhookSigningKey { get; private init; }

    public Secret? WriteKey { get; private init; }

    public SegmentRegion Region { get; private init; } = SegmentRegion.Us;

    /// <summary>The explicit endpoint override, when configured.</summary>
    public Uri? SegmentEndpoint { get; private init; }

    /// <summary>Where batches go: the override if set, else the region's endpoint.</summary>
    public Uri EffectiveEndpoint => SegmentEndpoint ?? SegmentRegions.Endpoint(Region);

    public EnabledEvents EnabledEvents { get; private init; } = EnabledEvents.All;

    public SendFrequency SendFrequency { get; private init; } = SendFrequency.Every;

    public bool BodyContent { get; private init; }

    public bool SendBackToCustomerIo { get; private init; }

    public IntegrationVersion Version { get; private init; } = IntegrationVersion.V2;

    /// <summary>
    /// Settings for previewing and benchmarking the mapping: no secrets, every other setting given.
    /// Services use <see cref="TryCreate"/>, which requires the secrets.
    /// </summary>
    public static SourceSettings ForMapping(
        string sourceId = "preview",
        bool bodyContent = false,
        bool sendBack = false,
        IntegrationVersion version = IntegrationVersion.V2,
        EnabledEvents? enabledEvents = null,
        SendFrequency sendFrequency = SendFrequency.Every) => new(sourceId)
        {
            BodyContent = bodyContent,
            SendBackToCustomerIo = sendBack,
            Version = version,
            EnabledEvents = enabledEvents ?? EnabledEvents.All,
            SendFrequency = sendFrequency,
        };

    /// <summary>Validates <paramref name="options"/>; throws with every problem listed when invalid.</summary>
    public static SourceSettings Create(string sourceId, SourceOptions options)
    {
        if (TryCreate(sourceId, options, out var settings, out var errors))
        {
            return settings;
        }

        throw new SourceSettingsException(errors);
    }

    /// <summary>
    /// Validates <paramref name="options"/>. Each error names the setting at fault by its configuration
    /// path (for example <c>CioSegment:Sources:acme:Region</c>) and says what is accepted; no error ever
    /// contains a secret's value.
    /// </summary>
    public static bool TryCreate(
        string sourceId,
        SourceOptions options,
        [NotNullWhen(true)] out SourceSettings? settings,
        out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<string>();
        var path = $"{SectionName}:{sourceId}";

        if (string.IsNullOrWhiteSpace(sourceId) || sourceId.Length > MaxSourceIdLength || !IsSourceId(sourceId))
        {
            list.Add($"{SectionName}: source id '{sourceId}' is not usable; use 1 to {MaxSourceIdLength} characters from letters, digits, '-' and '_' (it appears in the webhook URL).");
        }

        if (string.IsNullOrWhiteSpace(options.WebhookSigningKey))
        {
            list.Add($"{path}:WebhookSigningKey: required; copy the signing key from Customer.io's reporting webhook settings.");
        }

        if (string.IsNullOrWhiteSpace(options.WriteKey))
        {
            list.Add($"{path}:WriteKey: required; copy the write key from the Segment source's overview page.");
        }

        var region = SegmentRegion.Us;
        switch (options.Region?.Trim().ToLowerInvariant())
        {
            case null or "" or "us": break;
            case "eu": region = SegmentRegion.Eu; break;
            default:
                list.Add($"{path}:Region: '{options.Region}' is not a region; use 'us' or 'eu', or set SegmentEndpoint to an explicit URL.");
                break;
        }

        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(options.SegmentEndpoint))
        {
            if (!Uri.TryCreate(options.SegmentEndpoint.Trim(), UriKind.Absolute, out endpoint)
                || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp)
                || !string.IsNullOrEmpty(endpoint.Query) || !string.IsNullOrEmpty(endpoint.Fragment)
                || !string.IsNullOrEmpty(endpoint.UserInfo))
            {
                // The value is not echoed: a URL with user info would carry credentials.
                list.Add($"{path}:SegmentEndpoint: the value is not an absolute http(s) base URL without query, fragment or credentials (for example https://events.eu1.segmentapis.com).");
                endpoint = null;
            }
        }

        var enabled = EnabledEvents.Parse(options.EnabledEvents, $"{path}:EnabledEvents", list);

        var frequency = SendFrequency.Every;
        switch (options.SendFrequency?.Trim().ToLowerInvariant())
        {
            case null or "" or "every": break;
            case "first": frequency = SendFrequency.First; break;
            default:
                list.Add($"{path}:SendFrequency: '{options.SendFrequency}' is not a send frequency; use 'Every' or 'First'.");
                break;
        }

        var bodyContent = ParseFlag(options.BodyContent, $"{path}:BodyContent", list);
        var sendBack = ParseFlag(options.SendBackToCustomerIo, $"{path}:SendBackToCustomerIo", list);

        var version = IntegrationVersion.V2;
        switch (options.Version?.Trim())
        {
            case null or "" or "2" or "2.0" or "2.0.0": break;
            case "1" or "1.0" or "1.0.0": version = IntegrationVersion.V1; break;
            default:
                list.Add($"{path}:Version: '{options.Version}' is not a version; use 2 (current) or 1 (legacy email-only shape).");
                break;
        }

        errors = list;
        if (list.Count > 0)
        {
            settings = null;
            return false;
        }

        settings = new SourceSettings(sourceId)
        {
            WebhookSigningKey = new Secret(options.WebhookSigningKey!.Trim()),
            WriteKey = new Secret(options.WriteKey!.Trim()),
            Region = region,
            SegmentEndpoint = endpoint,
            EnabledEvents = enabled!,
            SendFrequency = frequency,
            BodyContent = bodyContent,
            SendBackToCustomerIo = sendBack,
            Version = version,
        };
        return true;
    }

    /// <summary>Every setting equal, secrets included (compared, never printed): a reload that changes nothing is not a change.</summary>
    public bool SameAs(SourceSettings other) =>
        SourceId == other.SourceId
        && WebhookSigningKey?.Reveal() == other.WebhookSigningKey?.Reveal()
        && WriteKey?.Reveal() == other.WriteKey?.Reveal()
        && Region == other.Region
        && SegmentEndpoint == other.SegmentEndpoint
        && EnabledEvents.Entries.SequenceEqual(other.EnabledEvents.Entries)
        && SendFrequency == other.SendFrequency
        && BodyContent == other.BodyContent
        && SendBackToCustomerIo == other.SendBackToCustomerIo
        && Version == other.Version;

    public override string ToString() =>
        $"Source {SourceId}: endpoint {EffectiveEndpoint}, events [{EnabledEvents}], frequency {SendFrequency}, " +
        $"body content {BodyContent}, send back {SendBackToCustomerIo}, version {(int)Version}";

    private static bool ParseFlag(string? value, string settingPath, List<string> errors)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case null or "" or "false": return false;
            case "true": return true;
            default:
                errors.Add($"{settingPath}: '{value}' is not a flag; use true or false.");
                return false;
        }
    }

    private static bool IsSourceId(string id)
    {
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Thrown by <see cref="SourceSettings.Create"/>; its message lists every invalid setting.</summary>
public sealed class SourceSettingsException(IReadOnlyList<string> errors)
    : Exception("Invalid source settings:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

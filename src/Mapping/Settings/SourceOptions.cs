namespace CioSegment.Mapping.Settings;

/// <summary>
/// Per-source settings as configured (configuration section <c>CioSegment:Sources:{sourceId}</c>, or
/// environment variables such as <c>CioSegment__Sources__acme__WriteKey</c>). Plain strings so that
/// every bad value is reported by <see cref="SourceSettings.TryCreate"/> with the setting's name,
/// instead of failing inside the configuration binder.
/// </summary>
public sealed class SourceOptions
{
    /// <summary>Customer.io's webhook signing key; verifies <c>X-CIO-Signature</c>. Required.</summary>
    public string? WebhookSigningKey { get; set; }

    /// <summary>The Segment source's write key; HTTP Basic user name of every batch. Required.</summary>
    public string? WriteKey { get; set; }

    /// <summary><c>us</c> (default) or <c>eu</c>.</summary>
    public string? Region { get; set; }

    /// <summary>Optional absolute http(s) base URL that overrides the region's endpoint.</summary>
    public string? SegmentEndpoint { get; set; }

    /// <summary><c>object_type.metric</c> entries, with wildcards (<c>email.*</c>, <c>*.clicked</c>, <c>*</c>). Default: all.</summary>
    public List<string>? EnabledEvents { get; set; }

    /// <summary><c>Every</c> (default) or <c>First</c>.</summary>
    public string? SendFrequency { get; set; }

    /// <summary><c>true</c> to include message bodies in sent events. Default <c>false</c>.</summary>
    public string? BodyContent { get; set; }

    /// <summary><c>true</c> to let Segment send the events back to Customer.io destinations. Default <c>false</c>.</summary>
    public string? SendBackToCustomerIo { get; set; }

    /// <summary><c>2</c> (default) or <c>1</c> (legacy shape).</summary>
    public string? Version { get; set; }
}

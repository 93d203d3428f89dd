using System.ComponentModel.DataAnnotations;
using CioSegment.Contracts;

namespace CioSegment.Ingest;

/// <summary>Settings of the webhook receiver, section <c>CioSegment:Ingest</c>.</summary>
public sealed class IngestOptions
{
    public const string SectionName = "CioSegment:Ingest";

    /// <summary>Largest webhook body accepted; larger ones get 413. Default 1 MiB.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long a request may wait for the broker to acknowledge its record before the sender gets 503.
    /// Default 3 s, inside Customer.io's 4 s timeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan BrokerTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>The <c>Retry-After</c> sent with 503, in seconds.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;

    /// <summary>
    /// Optional replay window: when set, a request whose <c>X-CIO-Timestamp</c> is further than this from
    /// now gets 401. Off by default, because Customer.io retries for up to 7 days with the original timestamp.
    /// </summary>
    public TimeSpan? SignatureTimestampWindow { get; set; }

    /// <summary>Topic the raw webhooks go to.</summary>
    [Required]
    public string Topic { get; set; } = Topics.RawWebhooks;
}

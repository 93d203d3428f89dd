using System.ComponentModel.DataAnnotations;
using CioSegment.Contracts;

namespace CioSegment.Inspector;

/// <summary>Settings of the event inspector, section <c>CioSegment:Inspector</c>.</summary>
public sealed class InspectorOptions
{
    public const string SectionName = "CioSegment:Inspector";

    /// <summary>Where the pages and the API are served (the DevHost and the service use the same path).</summary>
    public const string PathBase = "/inspector";

    /// <summary>The SQLite index file. Rebuilt from Kafka (as far back as <see cref="Retention"/>) when it is missing.</summary>
    [Required]
    public string DatabasePath { get; set; } = "data/inspector.db";

    /// <summary>Webhooks older than this leave the index (a twenty-fourth of it at a time).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>At most this many webhooks are indexed; past it the oldest twenty-fourth leaves the index.</summary>
    [Range(1000, 10_000_000_000)]
    public long MaxWebhooks { get; set; } = 10_000_000;

    /// <summary>
    /// SQLite's page cache for indexing, in MB: the newest bucket's search keys and fact indexes (about 150 MB per
    /// million webhooks in a bucket, a twenty-fourth of <see cref="MaxWebhooks"/>) should fit, or indexing slows
    /// down to the speed of reading pages back (docs/benchmarks.md). Counts toward the pod's memory.
    /// </summary>
    [Range(16, 65536)]
    public int CacheMegabytes { get; set; } = 256;

    /// <summary>Show emails as <c>j***@example.com</c> in pages and the API (search by the full email still works).</summary>
    public bool MaskEmails { get; set; }

    /// <summary>
    /// For small installs: requests must carry <c>Authorization: Bearer &lt;token&gt;</c> (or the pages' sign-in
    /// form sets it as a cookie). At least 32 characters. Never logged.
    /// </summary>
    public string? BearerToken { get; set; }

    /// <summary>OpenID Connect sign-in: issuer (authority), client id and secret.</summary>
    public InspectorOidcOptions Oidc { get; set; } = new();

    /// <summary>
    /// Serve without authentication. Honoured only when every address the server listens on is a loopback
    /// address (the DevHost); on any other address the inspector refuses to start without OIDC or a token.
    /// </summary>
    public bool AllowAnonymousOnLoopback { get; set; }

    public string RawTopic { get; set; } = Topics.RawWebhooks;

    public string OutcomesTopic { get; set; } = Topics.TransformOutcomes;

    public string SinkTopic { get; set; } = Topics.SegmentTrack;

    public string HeldTopic { get; set; } = Topics.SegmentHeld;

    public string WebhooksDeadLetterTopic { get; set; } = Topics.WebhooksDeadLetter;

    public string SegmentDeadLetterTopic { get; set; } = Topics.SegmentDeadLetter;

    public string DeliveriesTopic { get; set; } = Topics.SegmentDeliveries;

    /// <summary>
    /// Buckets a full index is split into: retention drops one at a time, a search reads each. More, smaller
    /// buckets index faster (a commit dirties fewer pages), fewer make searches cheaper.
    /// </summary>
    [Range(1, Index.EventIndex.MaxBuckets)]
    public int Buckets { get; set; } = Index.EventIndex.DefaultBuckets;

    /// <summary>Records indexed per SQLite transaction at most...</summary>
    [Range(1, 1_000_000)]
    public int BatchRecords { get; set; } = 50_000;

    /// <summary>...or what arrived within this long, whichever comes first (the live view's delay).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    public bool OidcConfigured => !string.IsNullOrWhiteSpace(Oidc.Authority) && !string.IsNullOrWhiteSpace(Oidc.ClientId);

    public bool BearerConfigured => !string.IsNullOrEmpty(BearerToken);
}

/// <summary>OpenID Connect settings of the inspector (<c>CioSegment:Inspector:Oidc</c>).</summary>
public sealed class InspectorOidcOptions
{
    /// <summary>The issuer, for example <c>https://login.example.com/realms/ops</c>.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    /// <summary>Never logged.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Only for a development identity provider on plain HTTP.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
}
